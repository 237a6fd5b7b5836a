"""Export a run's policy (from the Runs screen, ``e``): pick a format, optionally a file; the
export runs in a thread worker and the dialog closes saying what was written and how to load it.
The same as ``tui-rl export RUN --format F [-o FILE]``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from tui_rl.engine.file_formats import EXPORT_FORMATS
from tui_rl.tui.engine_imports import load_torchrl

LABELS = {"torchscript": "TorchScript", "onnx": "ONNX", "state-dict": "State dict"}


class ExportScreen(ModalScreen[str | None]):
    """Dismisses with the summary of what was written, or None when cancelled."""

    CSS_PATH = "export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="export.cancel"),
    ]

    class Done(Message):
        """The export finished: ``summary`` says what was written, or ``error`` why not."""

        def __init__(self, summary: str = "", error: str = "") -> None:
            super().__init__()
            self.summary = summary
            self.error = error

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)

    def compose(self) -> ComposeResult:
        with Vertical(id="export-panel") as panel:
            panel.border_title = f"Export the policy of {self.run_dir.name}"
            yield Static("The deterministic policy of the newest checkpoint, as a file that loads "
                         "without tui-rl.", id="export-about", markup=False)
            yield Label("File (empty: RUN-FRAMES with the format's suffix, in the working folder):")
            yield Input(id="export-path", placeholder=f"{self.run_dir.name}-<frames>.pt")
            yield Checkbox("Overwrite the file if it exists", id="export-force")
            yield Static("", id="export-status", markup=False)
            with Horizontal(id="export-buttons"):
                for export_format in EXPORT_FORMATS:
                    yield Button(LABELS[export_format], id=f"export-{export_format}", variant="primary")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#export-{EXPORT_FORMATS[0]}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        export_format = (event.button.id or "").removeprefix("export-")
        if export_format not in EXPORT_FORMATS:
            self.dismiss(None)
            return
        text = self.query_one("#export-path", Input).value.strip()
        self.query_one("#export-status", Static).update(f"Exporting as {LABELS[export_format]}…")
        for button in self.query(Button):
            button.disabled = button.id != "export-cancel"
        force = self.query_one("#export-force", Checkbox).value
        self.export(export_format, Path(text).expanduser() if text else None, force)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export(self, export_format: str, output: Path | None, force: bool) -> None:
        try:
            load_torchrl()
            from tui_rl.engine.inspect.export import export_policy

            exported = export_policy(self.run_dir, export_format, output, force=force)
        except Exception as exc:  # no checkpoint, a missing extra, a policy that cannot be traced
            self.post_message(self.Done(error=str(exc) or type(exc).__name__))
            return
        self.post_message(self.Done(summary=exported.summary()))

    def on_export_screen_done(self, message: Done) -> None:
        if message.error:
            self.query_one("#export-status", Static).update(f"Cannot export: {message.error}")
            for button in self.query(Button):
                button.disabled = False
            return
        self.notify(message.summary, title="Exported", timeout=10, markup=False)
        self.dismiss(message.summary)
