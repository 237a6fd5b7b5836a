"""The tui-rl app: four modes (setup, train, runs, inspect) over one run config.

The app owns what the modes share: the config being edited, the runs folder and the current run
(a reactive: the run shown in Train, which the inspector opens). Screens ask for runs to be
started or opened by posting messages (:mod:`tui_rl.tui.messages`); the app handles them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import var
from textual.screen import Screen

from tui_rl.config import DEFAULT_PRESET, ConfigError, RunConfig, load_preset
from tui_rl.engine.channel.warm_trainers import discard_spare, warm_up
from tui_rl.tui.commands import BindingCommands
from tui_rl.tui.hangup import HangupWatch, terminal_fds
from tui_rl.tui.messages import ContinueRun, OpenRun, RunShown, StartRun
from tui_rl.tui.modes import MODES, UnavailableScreen
from tui_rl.tui.under_way import UnderWay

if TYPE_CHECKING:
    from tui_rl.tui.screens.setup.screen import SetupScreen
    from tui_rl.tui.widgets.rollout_preview import RolloutPreview
    from tui_rl.tui.screens.train.screen import TrainScreen

MODES_GROUP = Binding.Group("Modes", compact=True)


class TuiRlApp(App[int]):
    """Choose an env, transforms and an algorithm; train in the background; watch and tune it live."""

    TITLE = "tui-rl"
    CSS_PATH = "app.tcss"
    MODES: ClassVar = MODES
    COMMANDS = App.COMMANDS | {BindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('setup')", "Setup", id="app.mode.setup", group=MODES_GROUP),
        Binding("2", "switch_mode('train')", "Train", id="app.mode.train", group=MODES_GROUP),
        Binding("3", "switch_mode('runs')", "Runs", id="app.mode.runs", group=MODES_GROUP),
        Binding("4", "switch_mode('inspect')", "Inspect", id="app.mode.inspect", group=MODES_GROUP),
        Binding("5", "open_search", "Search", id="app.search", group=MODES_GROUP, show=False),
        Binding("s", "start_run", "Start", id="app.start_run"),
        Binding("S", "start_seeds", "Seeds", id="app.start_seeds", show=False,
                tooltip="Train the setup once per seed, as a seed group"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding(
            "ctrl+p", "command_palette", "Commands", show=False, priority=True,
            tooltip="Every action by name", id="app.command_palette",
        ),
    ]

    #: The folder of the run shown in Train (started, attached or opened), None before the first.
    current_run_dir: var[Path | None] = var(None)

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        preset_name: str = DEFAULT_PRESET,
        runs_dir: Path = Path("runs"),
        attach_dir: Path | None = None,
        warm_trainer: bool = False,
    ) -> None:
        super().__init__()
        #: whether a spare trainer process warms up once the first frame is on screen, so a run
        #: started from the app does not wait for torch, and the env's specs and the machine's
        #: GPUs are read there, not in this process (engine/channel/warm_trainers.py). The checks
        #: before a run always run in a trainer process (that spare, or one started for the run).
        self.warm_trainer = warm_trainer
        self.config: RunConfig = config if config is not None else load_preset(preset_name)
        self.preset_name = preset_name
        #: the config as opened, before any edit: a run of another env or algorithm is not named
        #: after it, and a preset saved from the setup does not keep its words or target
        self.preset_config = self.config
        self.runs_dir = Path(runs_dir)
        self.attach_dir = attach_dir
        #: The setup pane's last "Preview" rollout (a TensorDict), for the inspector to open.
        self.preview_rollout: Any = None
        self.sub_title = preset_name
        #: the long tasks keys started (a branch, a run starting): one of each kind at a time
        self.under_way = UnderWay(self)
        self._hangup = HangupWatch(self.hang_up)

    async def on_mount(self) -> None:
        self._hangup.start([] if self.is_headless else terminal_fds())
        if self.attach_dir is None:
            await self.switch_mode("setup")
        else:
            self.post_message(OpenRun(self.attach_dir))
        if self.warm_trainer:
            self.call_after_refresh(warm_up)  # after the first frame: its imports take a core for seconds

    def on_unmount(self) -> None:
        self._hangup.stop()
        discard_spare()

    def detach(self) -> None:
        """Leave the app without stopping the run: the trainer is its own process and goes on."""
        self.exit(0)

    def hang_up(self) -> None:
        """The terminal is gone (SSH dropped, tmux killed): detach at once, from any thread.

        A normal exit would restore the terminal by writing to it, which can block forever on a
        dead pty and leave an orphaned app behind, so the process ends without that. The trainer
        runs in its own session and sees a client go away.
        """
        os._exit(0)

    # ---- the modes' screens ---------------------------------------------------------------------

    def mode_screen(self, mode: str) -> Screen | None:
        """The base screen of ``mode`` as its module defines it, or None if that mode was never
        shown or its screen is not available."""
        try:
            stack = self.get_screen_stack(mode)
        except KeyError:
            return None
        return None if not stack or isinstance(stack[0], UnavailableScreen) else stack[0]

    def train_screen(self) -> TrainScreen | None:
        return cast("TrainScreen | None", self.mode_screen("train"))

    def setup_screen(self) -> SetupScreen | None:
        return cast("SetupScreen | None", self.mode_screen("setup"))

    async def show_train(self) -> TrainScreen | None:
        """Switch to Train; None (and a note) if its screen is not available."""
        await self.switch_mode("train")
        train = self.train_screen()
        if train is None:
            self.notify("The train screen is not available.", title="Cannot open runs", severity="error")
        return train

    @property
    def has_live_run(self) -> bool:
        train = self.train_screen()
        return train is not None and train.has_live_run

    # ---- state shared by the modes --------------------------------------------------------------

    def set_config(self, config: RunConfig) -> None:
        """Replace the config being edited (the setup screen calls this with every valid edit)."""
        self.config = config

    def run_preset(self, config: RunConfig) -> str:
        """The preset a run of ``config`` is named after: none when its env or algorithm changed."""
        preset = self.preset_config
        same = (config.env.id, config.algorithm.name) == (preset.env.id, preset.algorithm.name)
        return self.preset_name if same else ""

    # ---- messages from the screens --------------------------------------------------------------

    def refuses_invalid_setup(self) -> bool:
        """Whether a Setup field shows a refused value, which a run of the setup would not have
        (it would train the last valid one): if so, say which fields."""
        setup = self.setup_screen()
        invalid = setup.invalid_fields if setup is not None else []
        if invalid:
            self.notify(f"Fix the invalid fields first: {', '.join(invalid)}", title="Cannot start",
                        severity="error", markup=False)
        return bool(invalid)

    async def on_start_run(self, message: StartRun) -> None:
        if self.refuses_invalid_setup():
            return
        train = await self.show_train()
        if train is not None:
            train.start_run(message.config, self.run_preset(message.config))

    async def on_open_run(self, message: OpenRun) -> None:
        train = await self.show_train()
        if train is not None:
            train.attach_run(message.run_dir)

    async def on_continue_run(self, message: ContinueRun) -> None:
        train = await self.show_train()
        if train is not None:
            train.continue_run(message.run_dir)

    def on_run_shown(self, message: RunShown) -> None:
        self.current_run_dir = message.run_dir

    def on_rollout_preview_finished(self, message: RolloutPreview.Finished) -> None:
        if not message.error:
            self.preview_rollout = message.rollout  # the inspector can open it

    # ---- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start_run" and self.has_live_run:
            return False  # one live run at a time; hiding the key leaves room in an 80-column footer
        return True

    def action_start_run(self) -> None:
        self.post_message(StartRun(self.config))

    def action_start_seeds(self) -> None:
        from tui_rl.tui.screens.seeds.launch import ask_and_start

        ask_and_start(self)

    def action_open_search(self) -> None:
        from tui_rl.tui.screens.search.screen import SearchScreen

        if not isinstance(self.screen, SearchScreen):
            self.push_screen(SearchScreen(self.runs_dir))

    def action_help(self) -> None:
        from tui_rl.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        train = self.train_screen()
        if train is not None and train.has_live_run:
            from tui_rl.tui.screens.quit import confirm_quit

            confirm_quit(self, train.handle, train.state)  # stop the run, leave it running, or stay
        else:
            self.exit(0)


def run_app(
    preset: str | None = None, run_dir: Path | None = None, runs_dir: Path = Path("runs")
) -> int:
    """Open the app on a preset (or a TOML file), or on a run folder. A bad preset or run folder
    prints the reason and exits with status 2."""
    try:
        if run_dir is not None:
            from tui_rl.engine.runs.folder import read_config

            run_dir = Path(run_dir)
            config = read_config(run_dir)
            name = run_dir.name
        else:
            name = preset or DEFAULT_PRESET
            config = load_preset(name)
    except ConfigError as exc:
        print(f"tui-rl: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if preset is not None and Path(preset).suffix == ".toml":
        name = Path(preset).stem
    app = TuiRlApp(config, preset_name=name, runs_dir=runs_dir, attach_dir=run_dir, warm_trainer=True)
    return app.run() or 0
