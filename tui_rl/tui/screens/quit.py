"""Asked when quitting while a run is live: stop it, leave it running detached, or stay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

if TYPE_CHECKING:
    from textual.app import App

    from tui_rl.engine.channel.handle import RunHandle

QuitChoice = Literal["stop", "detach", "cancel"]


class QuitScreen(ModalScreen[QuitChoice]):
    """Dismissed with "stop", "detach" or "cancel"."""

    CSS_PATH = "quit.tcss"
    BINDINGS = [
        Binding("s", "choose('stop')", "Stop the run", id="quit.stop"),
        Binding("d", "choose('detach')", "Leave it running", id="quit.detach"),
        Binding("escape,c", "choose('cancel')", "Cancel", id="quit.cancel"),
    ]

    def __init__(self, run_name: str, state: str = "running") -> None:
        super().__init__()
        self.run_name = run_name
        self.state = state

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-dialog"):
            doing = "is paused" if self.state == "paused" else "is still training"
            yield Static(f"Run {self.run_name} {doing}.", id="quit-title", markup=False)
            yield Static(
                "Leave it running and it goes on in the background"
                + (" (paused until you resume it)" if self.state == "paused" else "")
                + f"; `tui-rl attach {self.run_name}` brings it back.",
                id="quit-help",
                markup=False,
            )
            with Horizontal(id="quit-buttons"):
                yield Button("Stop the run (s)", id="stop", variant="error")
                yield Button("Leave it running (d)", id="detach", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detach", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)

    def action_choose(self, choice: QuitChoice) -> None:
        self.dismiss(choice)


def confirm_quit(app: App, handle: RunHandle, state: str) -> None:
    """Ask whether to stop the live run, leave it running detached, or stay; then do it."""

    def chosen(choice: QuitChoice | None) -> None:
        if choice == "stop":
            try:
                handle.stop()
            except Exception as exc:  # RunNotLive, a refused command, a broken socket: said, not raised
                app.notify(f"Could not stop the run: {exc}", severity="error", markup=False)
                return
            handle.close()
            app.exit(0)
        elif choice == "detach":
            app.detach()

    app.push_screen(QuitScreen(handle.name, state), chosen)
