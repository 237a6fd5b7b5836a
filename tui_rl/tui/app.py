"""The tui-rl app: four modes (setup, train, runs, inspect) over one run config.

Screens are imported lazily, when their mode is first shown, so a broken or missing screen module
shows a placeholder with the reason instead of stopping the app, and nothing torch-heavy is
imported before the first paint.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tui_rl.config import DEFAULT_PRESET, ConfigError, RunConfig, load_file, load_preset
from tui_rl.tui.commands import BindingCommands

if TYPE_CHECKING:
    from tui_rl.engine.handle import RunHandle

#: mode -> (module, class) of its base screen, imported on first use.
MODE_SCREENS: dict[str, tuple[str, str]] = {
    "setup": ("tui_rl.tui.screens.setup", "SetupScreen"),
    "train": ("tui_rl.tui.screens.train", "TrainScreen"),
    "runs": ("tui_rl.tui.screens.runs", "RunsScreen"),
    "inspect": ("tui_rl.tui.screens.inspector", "InspectorScreen"),
}

MODES_GROUP = Binding.Group("Modes", compact=True)


class UnavailableScreen(Screen):
    """Stands in for a mode whose screen could not be imported or built, saying why."""

    def __init__(self, mode: str, reason: str) -> None:
        super().__init__(name=mode)
        self.mode = mode
        self.reason = reason

    def compose(self) -> ComposeResult:
        yield Header()
        with Middle(), Center():
            yield Static(
                f"The {self.mode} screen is not available.\n\n{self.reason}", id="unavailable"
            )
        yield Footer()


def screen_factory(mode: str) -> Callable[[], Screen]:
    def make() -> Screen:
        module_name, class_name = MODE_SCREENS[mode]
        try:
            screen_class = getattr(importlib.import_module(module_name), class_name)
            return screen_class()
        except Exception as exc:  # any failure becomes a visible reason, not a crash
            return UnavailableScreen(mode, f"{type(exc).__name__}: {exc}")

    return make


class TuiRlApp(App[int]):
    """Choose an env, transforms and an algorithm; train in the background; watch and tune it live."""

    TITLE = "tui-rl"
    CSS_PATH = "app.tcss"
    MODES: ClassVar[dict[str, Callable[[], Screen]]] = {
        mode: screen_factory(mode) for mode in MODE_SCREENS
    }
    COMMANDS = App.COMMANDS | {BindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('setup')", "Setup", id="app.mode.setup", group=MODES_GROUP),
        Binding("2", "switch_mode('train')", "Train", id="app.mode.train", group=MODES_GROUP),
        Binding("3", "switch_mode('runs')", "Runs", id="app.mode.runs", group=MODES_GROUP),
        Binding("4", "switch_mode('inspect')", "Inspect", id="app.mode.inspect", group=MODES_GROUP),
        Binding("s", "start_run", "Start", id="app.start_run"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding(
            "ctrl+p", "command_palette", "Commands", show=False, priority=True,
            tooltip="Every action by name", id="app.command_palette",
        ),
    ]

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        preset_name: str = DEFAULT_PRESET,
        runs_dir: Path = Path("runs"),
        attach_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.config: RunConfig = config if config is not None else load_preset(preset_name)
        self.preset_name = preset_name
        self.runs_dir = Path(runs_dir)
        self.attach_dir = attach_dir
        self.handle: RunHandle | None = None
        self.current_run_dir: Path | None = None
        #: The setup pane's last "Preview" rollout (a TensorDict), for the inspector to open.
        self.preview_rollout: Any = None
        self.sub_title = preset_name

    async def on_mount(self) -> None:
        self._catch_hangup()
        if self.attach_dir is None:
            await self.switch_mode("setup")
            return
        await self.switch_mode("train")
        train = self.mode_screen("train")
        if hasattr(train, "attach_run"):
            train.attach_run(self.attach_dir)

    def _catch_hangup(self) -> None:
        # A lost SSH session or a killed tmux sends SIGHUP: detach and leave the run going.
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hang_up)
        except (NotImplementedError, RuntimeError, AttributeError):
            pass  # not the main thread, or no SIGHUP on this platform

    def on_unmount(self) -> None:
        try:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, AttributeError):
            pass

    def detach(self) -> None:
        """Leave the app without stopping the run: the trainer is its own process and goes on."""
        if self.handle is not None:
            self.handle.close()
        self.exit(0)

    def hang_up(self) -> None:
        """The terminal is gone (SSH dropped, tmux killed): detach at once.

        A normal exit would restore the terminal by writing to it, which can block forever on a
        dead pty and leave an orphaned app behind, so the process ends without that.
        """
        if self.handle is not None:
            self.handle.close()
        os._exit(0)

    def mode_screen(self, mode: str) -> Screen | None:
        """The base screen of ``mode``, or None if that mode was never shown."""
        try:
            stack = self.get_screen_stack(mode)
        except KeyError:
            return None
        return stack[0] if stack else None

    def set_config(self, config: RunConfig) -> None:
        """Replace the config being edited (the setup screen calls this with every valid edit)."""
        self.config = config

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start_run" and getattr(self.mode_screen("train"), "has_live_run", False):
            return False  # one live run at a time; hiding the key leaves room in an 80-column footer
        return True

    async def action_start_run(self) -> None:
        setup = self.mode_screen("setup")
        invalid = list(getattr(setup, "invalid_fields", []))
        if invalid:
            self.notify(
                f"Fix the invalid fields first: {', '.join(invalid)}",
                title="Cannot start",
                severity="error",
            )
            return
        await self.switch_mode("train")
        train = self.mode_screen("train")
        if not hasattr(train, "start_run"):
            self.notify("The train screen is not available.", title="Cannot start", severity="error")
            return
        train.start_run(self.config, self.preset_name)

    def action_help(self) -> None:
        from tui_rl.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        train = self.mode_screen("train")
        if getattr(train, "has_live_run", False):
            train.confirm_quit()  # asks: stop the run, leave it running detached, or cancel
        else:
            self.exit(0)


def run_app(
    preset: str | None = None, run_dir: Path | None = None, runs_dir: Path = Path("runs")
) -> int:
    """Open the app on a preset (or a TOML file), or on a run folder. A bad preset or run folder
    prints the reason and exits with status 2."""
    try:
        if run_dir is not None:
            run_dir = Path(run_dir)
            config = load_file(run_dir / "config.toml")
            name = run_dir.name
        else:
            name = preset or DEFAULT_PRESET
            config = load_preset(name)
    except ConfigError as exc:
        print(f"tui-rl: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if preset is not None and Path(preset).suffix == ".toml":
        name = Path(preset).stem
    app = TuiRlApp(config, preset_name=name, runs_dir=runs_dir, attach_dir=run_dir)
    return app.run() or 0
