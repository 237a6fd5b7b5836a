"""The inspector's two small dialogs: pick a rollout to open, and type a continuous action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class Source:
    """Where a rollout comes from: ``kind`` is latest, eval, replay, preview or saved (with ``path``)."""

    kind: str
    label: str
    path: Path | None = None
    unavailable: str = ""  # why it cannot be opened now; empty when it can


class SourcePicker(ModalScreen[Source | None]):
    """A list of the rollouts that can be opened; enter opens one, escape closes."""

    CSS_PATH = "inspector.tcss"
    BINDINGS = [Binding("escape", "dismiss", "Close", id="inspect.source.close")]

    def __init__(self, sources: list[Source]) -> None:
        super().__init__()
        self.sources = sources

    def compose(self) -> ComposeResult:
        options = []
        for index, source in enumerate(self.sources):
            prompt = source.label + (f"  ({source.unavailable})" if source.unavailable else "")
            options.append(Option(prompt, id=str(index), disabled=bool(source.unavailable)))
        with Vertical(id="source-dialog") as dialog:
            dialog.border_title = "Open a rollout"
            yield OptionList(*options, id="source-list")

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.sources[int(event.option_id)])


class ActionPrompt(ModalScreen[str | None]):
    """Asks for the values of a continuous action; ``check`` raises ValueError with the reason
    for a value the env cannot take, which is shown until the user fixes it."""

    CSS_PATH = "inspector.tcss"
    BINDINGS = [Binding("escape", "dismiss", "Cancel", id="inspect.action.cancel")]

    def __init__(self, prompt: str, check: Callable[[str], object], last: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.check = check
        self.last = last

    def compose(self) -> ComposeResult:
        with Vertical(id="action-dialog") as dialog:
            dialog.border_title = "Take an action"
            yield Label(self.prompt)
            yield Input(self.last, placeholder="e.g. 0.5  or  0.5, -1", id="action-input")
            yield Static(id="action-error")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        try:
            self.check(event.value)
        except ValueError as exc:
            self.query_one("#action-error", Static).update(str(exc))
            return
        self.dismiss(event.value)
