"""Saving a config as a preset TOML file (``tui-rl train FILE`` runs it), from Setup (ctrl+s) and
from a search trial (promote): the dialog asks where, showing what the file will say it trains."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui_rl.config import RunConfig, save_file
from tui_rl.config.presets import preset_file_name, saved_preset


class SavePresetScreen(ModalScreen[Path | None]):
    """Dismisses with the path typed, or None."""

    CSS_PATH = "save_preset.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="save_preset.cancel"),
    ]

    def __init__(self, suggested: Path, about: str = "") -> None:
        super().__init__()
        self.suggested = suggested
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical(id="save-preset-panel") as panel:
            panel.border_title = "Save as preset"
            yield Static(self.about, id="save-preset-about", markup=False)
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


def save_as_preset(app: App, config: RunConfig, origin: str, source: RunConfig) -> None:
    """Ask where to save ``config`` as a preset (see :func:`saved_preset`: described, named after
    what it trains, no target of another env), then save it and say how to train it."""
    preset, notes = saved_preset(config, origin, source)

    def save(path: Path | None) -> None:
        if path is None:
            return
        try:
            save_file(preset, path)
        except OSError as exc:
            app.notify(f"{path}: {exc.strerror}", title="Cannot save", severity="error", markup=False)
            return
        app.notify(f"Saved {path}. Train it with: tui-rl train {path}", title="Preset saved", markup=False)

    about = "\n".join([preset.description, *notes])
    app.push_screen(SavePresetScreen(Path(preset_file_name(preset)), about), save)
