"""Where to save the config as a preset TOML file (``tui-rl train FILE`` runs it)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class SavePresetScreen(ModalScreen[Path | None]):
    """Dismisses with the path typed, or None."""

    CSS_PATH = "save_preset.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="save_preset.cancel"),
    ]

    def __init__(self, suggested: Path) -> None:
        super().__init__()
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical(id="save-preset-panel") as panel:
            panel.border_title = "Save as preset"
            yield Label("File (TOML):")
            yield Input(str(self.suggested), id="save-preset-path")
            yield Static("", id="save-preset-error")
            with Horizontal(id="save-preset-buttons"):
                yield Button("Save", variant="primary", id="save-preset-save")
                yield Button("Cancel", id="save-preset-cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save-preset-save":
            self.save()
        else:
            self.dismiss(None)

    def save(self) -> None:
        text = self.query_one("#save-preset-path", Input).value.strip()
        if not text:
            self.query_one("#save-preset-error", Static).update("Type a file name.")
            return
        path = Path(text).expanduser()
        self.dismiss(path if path.suffix == ".toml" else path.with_name(path.name + ".toml"))
