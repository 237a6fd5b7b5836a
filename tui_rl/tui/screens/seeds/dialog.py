"""The seed-group dialog (S): which seeds to train the current setup with."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui_rl.config import ConfigError
from tui_rl.engine.run.seed_runs import default_parallel, parse_seeds

DEFAULT_SEEDS = "0 1 2 3 4"


class SeedsScreen(ModalScreen[list[int] | None]):
    """Dismisses with the seeds typed (two or more), or None."""

    CSS_PATH = "seeds.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", id="seeds.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="seeds-panel") as panel:
            panel.border_title = "Train a seed group"
            yield Label("Seeds (such as 0 1 2 3 4, or 0-4):")
            yield Input(DEFAULT_SEEDS, id="seeds-input")
            yield Static("", id="seeds-note", markup=False)
            with Horizontal(id="seeds-buttons"):
                yield Button("Start", variant="primary", id="seeds-start")
                yield Button("Cancel", id="seeds-cancel")

    def on_mount(self) -> None:
        self._check(DEFAULT_SEEDS)

    def _check(self, text: str) -> list[int] | None:
        note = self.query_one("#seeds-note", Static)
        try:
            seeds = parse_seeds(text)
        except ConfigError as exc:
            note.update(exc.errors[0].message)
            return None
        parallel = default_parallel(len(seeds))
        how = "one after the other" if parallel == 1 else f"{parallel} side by side"
        note.update(f"{len(seeds)} runs, {how}; the Runs pane groups them")
        return seeds

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "seeds-start":
            self._start()
        else:
            self.dismiss(None)

    def _start(self) -> None:
        seeds = self._check(self.query_one("#seeds-input", Input).value)
        if seeds is not None:
            self.dismiss(seeds)
