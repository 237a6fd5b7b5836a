"""The Train screen: start, open or continue a run, watch it live, steer it.

The trainer is its own process behind a :class:`RunHandle`. Opening a run runs in a thread worker
(:mod:`tui_rl.tui.screens.train.run_opening`) so the UI never waits; one thread worker consumes
``handle.events()`` and hands the events to the UI through a queue and a coalescing message, so a
fast trainer costs one message per UI turn, not one per event. Widgets are only touched on the UI
thread. The screen tells the app which run it shows with :class:`RunShown`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input
from textual.worker import get_current_worker

from tui_rl.config import ConfigError, RunConfig
from tui_rl.engine.channel.handle import RunHandle
from tui_rl.engine.protocol import FINAL_STATES, Metrics, Undone
from tui_rl.engine.runs.lineage import Lineage, read_lineage
from tui_rl.engine.runs.folder import RunHistory, read_config
from tui_rl.tui.screens.train import run_opening
from tui_rl.tui.screens.branch.flow import BranchFlow
from tui_rl.tui.screens.train.event_inbox import EventInbox
from tui_rl.tui.long_lived import freeze_long_lived
from tui_rl.tui.messages import ContinueRun, RunShown
from tui_rl.tui.screens.train.run_view import RunView
from tui_rl.tui.screens.confirm import ConfirmScreen
from tui_rl.tui.widgets.charts import TrainingCharts
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.widgets.fitting_footer import FittingFooter
from tui_rl.tui.widgets.live_hparams import LiveHparams
from tui_rl.tui.widgets.status_line import StatusLine
from tui_rl.tui.widgets.workers_panel import WorkersPanel
from tui_rl.tui.widgets.time_panel import TimePanel

#: Terminal sizes from which every chart shows at once and the hyperparameters stay open.
GRID_MIN_SIZE = (120, 36)
SIDE_MIN_WIDTH = 120

EVENT_WAIT_S = 0.5
#: the app's task under way (tui/under_way.py) while a trainer starts: one at a time
RUN_TASK = "run"
LIVE_ACTIONS = {"pause", "resume", "stop", "checkpoint", "step_batch", "undo_edit"}


class TrainScreen(Screen):
    """Live charts, status, event log and live hyperparameters of one run."""

    CSS_PATH = [
        "train.tcss",
        "../../widgets/charts.tcss",
        "../../widgets/status_line.tcss",
        "../../widgets/event_log.tcss",
        "../../widgets/live_hparams.tcss",
        "../../widgets/workers_panel.tcss",
        "../../widgets/time_panel.tcss",
    ]
    BINDINGS = [
        # One key, two bindings: the footer names what p does now.
        Binding("p", "pause", "Pause", id="train.pause"),
        Binding("p", "resume", "Resume", id="train.resume"),
        Binding("x", "stop", "Stop", id="train.stop"),
        Binding("c", "checkpoint", "Checkpoint", id="train.checkpoint", show=False),
        Binding("n", "step_batch", "Step", id="train.step"),
        Binding("e", "edit_hparams", "Hparams", id="train.hparams"),
        Binding("r", "continue_run", "Continue", id="train.continue"),
        Binding("b", "branch", "Branch", id="train.branch", show=False),
        Binding("u", "undo_edit", "Undo edit", id="train.undo", show=False),
        Binding("t", "toggle_time", "Time panel", id="train.time", show=False),
        Binding("right_square_bracket", "cycle_chart(1)", "Chart", key_display="]", id="train.next_chart", show=False),
        Binding("left_square_bracket", "cycle_chart(-1)", "Previous chart", key_display="[", id="train.prev_chart", show=False),
    ]

    class RunOpened(Message):
        """A run was started, attached or continued: its handle, its config and its history so far."""

        def __init__(self, handle: RunHandle, config: RunConfig | None, history: RunHistory, lineage: Lineage,
                     task: str = "") -> None:
            super().__init__()
            self.handle = handle
            self.config = config
            self.history = history
            self.lineage = lineage
            self.task = task  # the app's task under way that ends with this

    class RunFailedToOpen(Message):
        """Starting or opening a run failed (or was refused); ``reason`` says why."""

        def __init__(self, reason: str, task: str = "") -> None:
            super().__init__()
            self.reason = reason
            self.task = task  # the app's task under way that ends with this

    class EventsArrived(Message):
        """Live events wait in the screen's inbox."""

    class EventsEnded(Message):
        """The live stream of ``handle`` ended: the run ended, or the connection dropped."""

        def __init__(self, handle: RunHandle, reason: str = "") -> None:
            super().__init__()
            self.handle = handle
            self.reason = reason

    def __init__(self) -> None:
        super().__init__()
        self.handle: RunHandle | None = None
        self.state = "idle"
        self._inbox = EventInbox()
        self.branching = BranchFlow(self)

    def compose(self) -> ComposeResult:
        # Kept at hand: events reach them many times a second.
        self.status = StatusLine(id="status-line")
        self.charts = TrainingCharts(id="charts")
        self.log_pane = EventLog(id="event-log")
        self.hparams = LiveHparams(id="live-hparams")
        self.workers_panel = WorkersPanel(id="workers-panel")
        self.view = RunView(self.status, self.charts, self.log_pane, self.hparams)
        yield Header()
        yield self.status
        with Horizontal(id="train-body"):
            with Vertical(id="train-main"):
                yield self.charts
                yield self.workers_panel
                yield TimePanel(self.charts, id="time-panel")
                yield self.log_pane
            yield self.hparams
        yield FittingFooter()

    # ---- what the app asks ------------------------------------------------------------------

    @property
    def has_live_run(self) -> bool:
        return self.handle is not None and self.handle.is_live and self.state not in FINAL_STATES

    def start_run(self, config: RunConfig, preset: str) -> None:
        """Check ``config`` and launch a trainer for it; the screen fills in as it comes up."""
        if not self._may_open(f"Starting a {config.algorithm.name} run on {config.env.id}"):
            return
        self._clear(state="starting")
        self.log_pane.add_line("info", f"checking a {config.algorithm.name} run on {config.env.id}…")
        self._open(run_opening.start, config, Path(self.app.runs_dir), preset, task=RUN_TASK)

    def attach_run(self, run_dir: Path) -> None:
        """Open a run folder: live with its full history if the trainer is up, else its record."""
        self._clear(state="starting")
        self.log_pane.add_line("info", f"opening run {Path(run_dir).name}…")
        self._open(run_opening.attach, Path(run_dir))

    def continue_run(self, run_dir: Path) -> None:
        """Start a trainer that goes on with a stopped or crashed run from its last checkpoint."""
        if not self._may_open(f"Continuing run {Path(run_dir).name}"):
            return
        self._clear(state="starting")
        self.log_pane.add_line("info", f"continuing run {Path(run_dir).name} from its last checkpoint…")
        self._open(run_opening.continue_run, Path(run_dir), task=RUN_TASK)

    def _may_open(self, what: str) -> bool:
        """Whether a trainer may start for ``what``: not while a run is live or another is starting."""
        if self.has_live_run:
            self.app.notify(
                f"Run {self.handle.name} is still live: stop it (x) first, or quit and leave it running.",
                title="A run is live",
                severity="warning",
                markup=False,
            )
            return False
        return self.app.under_way.begin(RUN_TASK, what)

    # ---- opening runs and reading their events (thread workers) -----------------------------

    @work(thread=True, exclusive=True, group="open-run", exit_on_error=False)
    def _open(self, opener: Callable[..., tuple[RunHandle, RunHistory]], *args, task: str = "") -> None:
        # ``task``: the app's task under way (a run starting) that ends once the screen shows the outcome
        try:
            handle, history = opener(*args)
        except Exception as exc:  # OpenRefused says why; anything else is still said, never raised
            self.post_message(self.RunFailedToOpen(str(exc) or type(exc).__name__, task))
            return
        try:
            config = read_config(handle.run_dir)
        except ConfigError:
            config = None  # charts and log still show; only the live hyperparameters need it
        self.post_message(self.RunOpened(handle, config, history, read_lineage(handle.run_dir), task))

    def receive(self, handle: RunHandle, event) -> None:
        """Take a live event of ``handle`` from any thread; the screen applies it on its own."""
        if self._inbox.put(handle, event):
            self.post_message(self.EventsArrived())

    @work(thread=True, group="events", exit_on_error=False)
    def _read_events(self, handle: RunHandle) -> None:
        # The handle skips what history() already read. Short waits let the thread notice a
        # detach (handle closed) or the app quitting (worker cancelled) within half a second.
        worker = get_current_worker()
        reason = ""
        try:
            while not worker.is_cancelled:
                live = handle.is_live
                for event in handle.events(timeout=EVENT_WAIT_S):
                    self.receive(handle, event)
                if not live:  # what came before the connection closed is read: the stream ends
                    break
        except Exception as exc:  # a broken connection ends the stream; the UI says so
            reason = str(exc) or type(exc).__name__
        self.post_message(self.EventsEnded(handle, reason))

    @work(thread=True, group="commands", exit_on_error=False)
    def _send(self, command: Callable[[], None], what: str) -> None:
        try:
            command()
        except Exception as exc:
            self.app.call_from_thread(self.log_pane.add_line, "error", f"could not {what}: {exc}")

    # ---- messages ---------------------------------------------------------------------------

    async def on_train_screen_run_opened(self, message: RunOpened) -> None:
        message.stop()
        self.app.under_way.end(message.task)  # the handle set below refuses another start
        if self.handle is not None and self.handle is not message.handle:
            self.handle.close()
        if self.handle is message.handle:  # reattached: the history on disk replaces what is shown
            self.view.clear(self.state)
            self.workers_panel.reset()
        self.handle = handle = message.handle
        self.sub_title = handle.name
        self.post_message(RunShown(handle.run_dir))
        if message.config is not None:
            await self.hparams.load(message.config, editable=handle.is_live)
        state = self.view.replay(message.history, message.lineage)
        freeze_long_lived()  # the screen and this run's view stay: later collections skip them
        self.workers_panel.show_history(message.history.metrics)
        if state is not None:
            self._set_state(state)
        summary = message.history.summary
        if handle.is_live or handle.process is not None:
            # a trainer started here: what it sent before a quick run closed its connection waits
            # in the handle, the run's end included
            self._read_events(handle)
        elif self.state not in FINAL_STATES:
            # The trainer is gone without saying so (killed, crashed): the summary knows.
            if summary.reason:
                self.log_pane.add_line("warning", summary.reason, summary.frames)
            self.status.update_progress(reason=summary.reason)
            self._set_state(summary.status)
        self.refresh_bindings()

    def on_train_screen_run_failed_to_open(self, message: RunFailedToOpen) -> None:
        message.stop()
        self.app.under_way.end(message.task)
        self.log_pane.add_line("error", message.reason)
        self.app.notify(message.reason, severity="error", markup=False)
        # Nothing was opened: the screen says why; the run shown before was cleared from it.
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        self._set_state("idle")
        self.status.update_progress(reason=message.reason)

    def on_train_screen_events_arrived(self, message: EventsArrived | None = None) -> None:
        for handle, event in self._inbox.drain():
            if handle is self.handle:  # not a previous run's leftovers
                state = self.view.apply(event)
                if isinstance(event, Metrics):
                    self.workers_panel.show(event.values)
                if state is not None:
                    self._set_state(state)
                if isinstance(event, Undone):  # the run went back: show its record as it is now
                    self._open(lambda handle=handle: (handle, handle.history()))

    def on_train_screen_events_ended(self, message: EventsEnded) -> None:
        if message.handle is not self.handle:
            return
        self.on_train_screen_events_arrived()
        handle = message.handle
        if self.state not in FINAL_STATES and handle.drop_reason:
            # The trainer is up but let this view go (it fell behind): catch up from the run folder.
            self.log_pane.add_line("warning", f"{handle.drop_reason}; catching up from the run folder")
            self._open(lambda: (handle, handle.reattach()))
            return
        if self.state not in FINAL_STATES:
            why = f": {message.reason}" if message.reason else ""
            self.log_pane.add_line("error", f"lost the connection to the trainer{why}")
            self._set_state("disconnected")
        self.hparams.set_editable(False)
        self.refresh_bindings()

    def on_live_hparams_change_requested(self, message: LiveHparams.ChangeRequested) -> None:
        if self.has_live_run:
            handle, values = self.handle, message.values
            self._send(lambda: handle.set_hparams(values), "send the new values")

    # ---- state ----------------------------------------------------------------------------------

    def _clear(self, state: str) -> None:
        self._inbox.drain()
        self.view.clear(state)
        self.workers_panel.reset()
        self._set_state(state)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.status.update_progress(state=state)
        self.workers_panel.show_state(state)
        self.refresh_bindings()
        self.app.refresh_bindings()  # the app's Start key hides while a run is live

    # ---- layout -------------------------------------------------------------------------------

    def on_resize(self, event) -> None:
        width, height = event.size
        self.charts.set_grid(width >= GRID_MIN_SIZE[0] and height >= GRID_MIN_SIZE[1])
        self.set_class(width >= SIDE_MIN_WIDTH, "-wide")

    # ---- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LIVE_ACTIONS and not self.has_live_run:
            return False  # hidden: there is no live run to steer
        if action in ("resume", "step_batch"):
            return self.state == "paused"  # stepping one batch only makes sense while paused
        if action == "pause":
            return self.state != "paused"
        if action == "branch":
            return self.handle is not None
        if action == "continue_run":
            progress = self.status.progress
            return self.handle is not None and run_opening.can_continue(
                self.state, progress.frames, progress.total_frames
            )
        return True

    def action_pause(self) -> None:
        self._send(self.handle.pause, "pause")

    def action_resume(self) -> None:
        self._send(self.handle.resume, "resume")

    def action_stop(self) -> None:
        handle = self.handle

        def answered(yes: bool | None) -> None:
            if yes and handle is self.handle and self.has_live_run:
                self._send(handle.stop, "stop")

        self.app.push_screen(
            ConfirmScreen(
                f"Stop run {handle.name}?",
                "It ends after the current batch; `r` continues it later from its last checkpoint.",
                "Stop the run",
            ),
            answered,
        )

    def action_checkpoint(self) -> None:
        self._send(self.handle.checkpoint, "checkpoint")

    def action_step_batch(self) -> None:
        self._send(self.handle.step_batch, "step one batch")

    def action_continue_run(self) -> None:
        self.post_message(ContinueRun(self.handle.run_dir))

    def action_branch(self) -> None:
        live = self.handle if self.has_live_run else None
        self.branching.start(self.handle.run_dir, live, self.status.progress.frames)

    def action_toggle_time(self) -> None:
        panel = self.query_one(TimePanel)
        panel.display = not panel.display
        panel.show_latest()

    def action_undo_edit(self) -> None:
        self._send(self.handle.undo_edit, "undo the last edit")

    def action_edit_hparams(self) -> None:
        side = self.hparams
        editable = [field for field in side.query(Input) if not field.disabled]
        if side.has_class("-open") and not editable:
            side.remove_class("-open")  # e again closes a read-only pane
            return
        side.add_class("-open")
        # The focus goes into the pane, so escape (its binding) closes it even with no input to edit.
        (editable[0] if editable else side).focus()

    def action_cycle_chart(self, step: int) -> None:
        self.charts.action_cycle(step)

    def on_unmount(self) -> None:
        if self.handle is not None:
            self.handle.close()
