"""Edit the run's live-tunable hyperparameters while it trains.

A value is checked against the config model first (a refused value names the rule it breaks and is
never sent); a valid one goes to the trainer as ``SetHparams`` and shows as pending until the
trainer answers with ``HparamsChanged`` (the new value holds) or ``HparamsRejected`` (its reason).
A box the user leaves shows the value that holds or is on its way, never a refused one, so a value
applied in another box is never mistaken for taking the refused one with it.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Input, Label, Static

from tui_rl.config import ConfigError, RunConfig, live_fields
from tui_rl.config.edit import edit, edit_field, parse_value


def first_reason(error: ConfigError) -> str:
    """The first field error of ``error`` (``optim.lr: Input should be greater than 0``)."""
    return str(error.errors[0])


def shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class LiveHparams(VerticalScroll):
    """One input per live-tunable field of the shown run; Enter sends the change."""

    BINDINGS = [
        Binding("escape", "close", "Back to charts", id="hparams.close"),
        Binding("down", "app.focus_next", "Next field", show=False, id="hparams.next"),
        Binding("up", "app.focus_previous", "Previous field", show=False, id="hparams.previous"),
    ]

    class ChangeRequested(Message):
        """The user asked for valid new values (``{"optim.lr": 3e-4}``) to be sent to the trainer."""

        def __init__(self, values: dict[str, Any]) -> None:
            super().__init__()
            self.values = values

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config: RunConfig | None = None
        self.editable = False
        #: values sent to the trainer that it has not answered yet
        self.sent: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static("Live hyperparameters", classes="pane-title")
        yield Static("No run.", id="hp-note")

    async def load(self, config: RunConfig, editable: bool) -> None:
        """Show ``config``'s live fields; ``editable`` while the trainer is reachable."""
        self.config = config
        self.editable = editable
        self.sent = {}
        await self.query(".hp-row").remove()
        rows = []
        for key, value in live_fields(config).items():
            field_input = Input(shown(value), name=key, compact=True, disabled=not editable,
                                id=f"hp-{key.replace('.', '-')}")
            label = key.removeprefix("algorithm.")  # the algorithm's own fields are the usual ones
            rows.append(Horizontal(Label(label, classes="hp-key"), field_input, classes="hp-row"))
        await self.mount_all(rows)
        self._note_editable()

    def action_close(self) -> None:
        """Give the keys back to the screen (and hide the pane where it is toggled)."""
        self.remove_class("-open")
        self.screen.set_focus(None)

    def set_editable(self, editable: bool) -> None:
        self.editable = editable
        for field_input in self.query(Input):
            field_input.disabled = not editable
        self._note_editable()  # an "Applied ..." note of a run that ended is stale

    def _note_editable(self) -> None:
        self.note("Enter applies a value at the next batch." if self.editable
                  else "The run is not live: values are read-only.")

    def note(self, message: str, level: str = "info") -> None:
        note = self.query_one("#hp-note", Static)
        note.update(Text(message))  # reasons come from data: no markup
        note.set_class(level == "error", "-error")

    def field_input(self, key: str) -> Input:
        return self.query_one(f"#hp-{key.replace('.', '-')}", Input)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        key = event.input.name
        if self.config is None or not key or not self.editable:
            return
        try:
            _, typed = edit_field(self.config, key, parse_value(event.value.strip()), live_only=True, source="live")
        except ConfigError as exc:
            event.input.add_class("-invalid")
            self.note(f"Not sent: {first_reason(exc)}", "error")
            return
        event.input.remove_class("-invalid")
        event.input.add_class("-pending")
        self.sent[key] = typed
        self.note(f"Sent {key}={shown(typed)}; waiting for the trainer…")
        self.post_message(self.ChangeRequested({key: typed}))

    def on_descendant_blur(self, event) -> None:
        # An edit left without Enter, or refused, is not applied: show the value that holds again
        # (or the one sent and not answered yet).
        if isinstance(event.widget, Input) and self.config is not None and event.widget.name:
            key = event.widget.name
            event.widget.remove_class("-invalid")
            self._show_value(event.widget, self.sent.get(key, live_fields(self.config)[key]))

    def applied(self, changes: dict[str, Any]) -> None:
        """The trainer's ``HparamsChanged``: these values now hold."""
        if self.config is None:
            return
        self.config = edit(self.config, changes, source="live")
        for key, value in changes.items():
            self.sent.pop(key, None)
            try:
                field_input = self.field_input(key)
            except NoMatches:  # a field this config does not show
                continue
            self._show_value(field_input, value)
            field_input.remove_class("-pending", "-invalid")
        self.note(f"Applied {', '.join(f'{k}={shown(v)}' for k, v in changes.items())}.")

    @staticmethod
    def _show_value(field_input: Input, value: Any) -> None:
        field_input.value = shown(value)
        field_input.cursor_position = len(field_input.value)

    def rejected(self, values: dict[str, Any], reason: str) -> None:
        """The trainer's ``HparamsRejected``: the run goes on with the old values."""
        for key in values:
            self.sent.pop(key, None)
            try:
                field_input = self.field_input(key)
            except NoMatches:
                continue
            field_input.remove_class("-pending")
            field_input.add_class("-invalid")
            if self.config is not None:
                self._show_value(field_input, live_fields(self.config)[key])
        self.note(f"Refused by the trainer: {reason}", "error")
