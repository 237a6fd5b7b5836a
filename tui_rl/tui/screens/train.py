"""The Train screen: start or attach a run, watch it live, steer it.

The trainer is its own process behind a :class:`RunHandle`. Starting and attaching run in thread
workers so the UI never waits on them; one thread worker consumes ``handle.events()`` and hands the
events to the UI through a queue and a coalescing message, so a fast trainer costs one message per
UI turn, not one per event. Widgets are only touched on the UI thread.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input
from textual.worker import get_current_worker

from tui_rl.config import ConfigError, RunConfig, load_file
from tui_rl.engine.handle import RunHandle
from tui_rl.engine.protocol import (
    FINAL_STATES,
    CheckpointNow,
    Command,
    Evaluated,
    Event,
    HparamsChanged,
    HparamsRejected,
    Metrics,
    Pause,
    Resume,
    SetHparams,
    StatusChanged,
    StepBatch,
    Stop,
)
from tui_rl.engine.runfolder import RunHistory
from tui_rl.tui.screens.quit import QuitChoice, QuitScreen
from tui_rl.tui.widgets.charts import TrainingCharts
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.widgets.live_hparams import LiveHparams
from tui_rl.tui.widgets.status_line import StatusLine

#: Terminal sizes from which every chart shows at once and the hyperparameters stay open.
GRID_MIN_SIZE = (120, 36)
SIDE_MIN_WIDTH = 120

EVENT_WAIT_S = 0.5
LIVE_ACTIONS = {"pause_resume", "stop", "checkpoint", "step_batch"}


class EventInbox:
    """Events from the reader thread, with the handle they came from, waiting for the UI; ``put``
    says whether the UI needs a nudge (only the first event after a drain does, so messages
    coalesce under load)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: deque[tuple[RunHandle, Event]] = deque()

    def put(self, handle: RunHandle, event: Event) -> bool:
        with self._lock:
            self._events.append((handle, event))
            return len(self._events) == 1

    def drain(self) -> list[tuple[RunHandle, Event]]:
        with self._lock:
            events = list(self._events)
            self._events.clear()
            return events


class TrainScreen(Screen):
    """Live charts, status, event log and live hyperparameters of one run."""

    CSS_PATH = [
        "train.tcss",
        "../widgets/charts.tcss",
        "../widgets/status_line.tcss",
        "../widgets/event_log.tcss",
        "../widgets/live_hparams.tcss",
    ]
    BINDINGS = [
        Binding("p", "pause_resume", "Pause", id="train.pause"),
        Binding("x", "stop", "Stop", id="train.stop"),
        Binding("c", "checkpoint", "Checkpoint", id="train.checkpoint", show=False),
        Binding("n", "step_batch", "Step", id="train.step"),
        Binding("e", "edit_hparams", "Hparams", id="train.hparams"),
        Binding("right_square_bracket", "cycle_chart(1)", "Chart", key_display="]", id="train.next_chart", show=False),
        Binding("left_square_bracket", "cycle_chart(-1)", "Previous chart", key_display="[", id="train.prev_chart", show=False),
    ]

    class RunOpened(Message):
        """A run was started or attached: its handle, its config and its history so far."""

        def __init__(self, handle: RunHandle, config: RunConfig | None, history: RunHistory) -> None:
            super().__init__()
            self.handle = handle
            self.config = config
            self.history = history

    class RunFailedToOpen(Message):
        """Starting or attaching a run failed; ``reason`` says why."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

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

    def compose(self) -> ComposeResult:
        # Kept at hand: events reach them many times a second.
        self.status = StatusLine(id="status-line")
        self.charts = TrainingCharts(id="charts")
        self.log_pane = EventLog(id="event-log")
        self.hparams = LiveHparams(id="live-hparams")
        yield Header()
        yield self.status
        with Horizontal(id="train-body"):
            with Vertical(id="train-main"):
                yield self.charts
                yield self.log_pane
            yield self.hparams
        yield Footer()

    # ---- the app's contract -----------------------------------------------------------------

    @property
    def has_live_run(self) -> bool:
        return self.handle is not None and self.handle.is_live and self.state not in FINAL_STATES

    def start_run(self, config: RunConfig, preset: str) -> None:
        """Launch a trainer process for ``config``; the screen fills in as it comes up."""
        if self.state == "starting":
            self.app.notify("A run is starting already.", severity="warning")
            return
        if self.has_live_run:
            self.app.notify(
                f"Run {self.handle.name} is still training: stop it (x) first, or quit and leave it running.",
                title="A run is live",
                severity="warning",
            )
            return
        self._clear(state="starting")
        self.log_pane.add_line("info", f"starting a {config.algorithm.name} run on {config.env.id}…")
        self._start_worker(config, preset)

    def attach_run(self, run_dir: Path) -> None:
        """Open a run folder: live with its full history if the trainer is up, else its record."""
        self._clear(state="starting")
        self.log_pane.add_line("info", f"opening run {Path(run_dir).name}…")
        self._attach_worker(Path(run_dir))

    def confirm_quit(self) -> None:
        """Ask whether to stop the live run, leave it running detached, or stay."""
        self.app.push_screen(QuitScreen(self.handle.name if self.handle else ""), self._quit_chosen)

    def _quit_chosen(self, choice: QuitChoice | None) -> None:
        if choice == "stop" and self.handle is not None:
            try:
                self.handle.send(Stop())
            except OSError as exc:
                self.app.notify(f"Could not stop the run: {exc}", severity="error")
                return
            self.handle.close()
            self.app.exit(0)
        elif choice == "detach":
            self.app.detach()

    # ---- opening runs (thread workers) ------------------------------------------------------

    @work(thread=True, exclusive=True, group="open-run", exit_on_error=False)
    def _start_worker(self, config: RunConfig, preset: str) -> None:
        try:
            handle = RunHandle.start(config, runs_dir=self.app.runs_dir, preset=preset)
            history = handle.history()
        except Exception as exc:  # any failure to start is shown, never raised into the app
            self.post_message(self.RunFailedToOpen(f"could not start the run: {exc}"))
            return
        self.post_message(self.RunOpened(handle, config, history))

    @work(thread=True, exclusive=True, group="open-run", exit_on_error=False)
    def _attach_worker(self, run_dir: Path) -> None:
        try:
            handle = RunHandle.attach(run_dir)
            history = handle.history()
        except Exception as exc:
            self.post_message(self.RunFailedToOpen(f"could not open {run_dir}: {exc}"))
            return
        try:
            config = load_file(handle.run_dir / "config.toml")
        except ConfigError:
            config = None  # charts and log still show; only the live hyperparameters need it
        self.post_message(self.RunOpened(handle, config, history))

    @work(thread=True, group="events", exit_on_error=False)
    def _read_events(self, handle: RunHandle) -> None:
        # The handle skips what history() already read. Short waits let the thread notice a
        # detach (handle closed) or the app quitting (worker cancelled) within half a second.
        worker = get_current_worker()
        reason = ""
        try:
            while handle.is_live and not worker.is_cancelled:
                for event in handle.events(timeout=EVENT_WAIT_S):
                    if self._inbox.put(handle, event):
                        self.post_message(self.EventsArrived())
        except Exception as exc:  # a broken connection ends the stream; the UI says so
            reason = str(exc) or type(exc).__name__
        self.post_message(self.EventsEnded(handle, reason))

    @work(thread=True, group="commands", exit_on_error=False)
    def _send(self, handle: RunHandle, command: Command) -> None:
        try:
            handle.send(command)
        except Exception as exc:
            self.app.call_from_thread(
                self.log_pane.add_line, "error", f"could not send {type(command).__name__}: {exc}"
            )

    # ---- messages ---------------------------------------------------------------------------

    async def on_train_screen_run_opened(self, message: RunOpened) -> None:
        if self.handle is not None and self.handle is not message.handle:
            self.handle.close()
        self.handle = message.handle
        self.app.handle = message.handle
        self.app.current_run_dir = message.handle.run_dir
        self.sub_title = message.handle.name
        if message.config is not None:
            await self.hparams.load(message.config, editable=message.handle.is_live)
        self._replay(message.history)
        summary = message.history.summary
        if message.handle.is_live:
            self._read_events(message.handle)
        elif self.state not in FINAL_STATES:
            # The trainer is gone without saying so (killed, crashed): the summary knows.
            if summary.reason:
                self.log_pane.add_line("warning", summary.reason, summary.frames)
            self.status.update_progress(reason=summary.reason)
            self._set_state(summary.status)
        self.refresh_bindings()

    def on_train_screen_run_failed_to_open(self, message: RunFailedToOpen) -> None:
        self.log_pane.add_line("error", message.reason)
        self._set_state("failed")

    def on_train_screen_events_arrived(self, message: EventsArrived | None = None) -> None:
        for handle, event in self._inbox.drain():
            if handle is self.handle:  # not a previous run's leftovers
                self._apply(event)

    def on_train_screen_events_ended(self, message: EventsEnded) -> None:
        if message.handle is not self.handle:
            return
        self.on_train_screen_events_arrived()
        if self.state not in FINAL_STATES:
            why = f": {message.reason}" if message.reason else ""
            self.log_pane.add_line("error", f"lost the connection to the trainer{why}")
            self._set_state("disconnected")
        self.hparams.set_editable(False)
        self.refresh_bindings()

    def on_live_hparams_change_requested(self, message: LiveHparams.ChangeRequested) -> None:
        if self.has_live_run:
            self._send(self.handle, SetHparams(message.values))

    # ---- applying history and events --------------------------------------------------------

    def _clear(self, state: str) -> None:
        self.state = state
        self._inbox.drain()
        self.charts.reset()
        self.log_pane.clear()
        self.status.reset(state=state)

    def _replay(self, history: RunHistory) -> None:
        """Fill the screen from the run's record on disk (summary, metric series, logged events)."""
        curves = self.charts.curves
        for name, points in history.metrics.items():
            for frames, value in points:
                curves.add(frames, {name: value})
        summary = history.summary
        fps = history.metrics.get("fps")
        self.status.update_progress(
            frames=summary.frames,
            total_frames=summary.total_frames,
            fps=fps[-1][1] if fps else None,
            best_eval=summary.best_eval,
            last_eval=summary.last_eval,
        )
        for event in history.events:
            self._apply(event, replaying=True)

    def _apply(self, event: Event, replaying: bool = False) -> None:
        status = self.status
        if event.frames > status.progress.frames:
            status.update_progress(frames=event.frames)
        if isinstance(event, Metrics):
            self.charts.curves.add(event.frames, event.values)
            if "fps" in event.values:
                status.update_progress(fps=event.values["fps"])
            return
        self.log_pane.add_event(event)
        if isinstance(event, StatusChanged):
            self._on_status(event)
        elif isinstance(event, Evaluated):
            if not replaying:  # on disk, evaluations are a metric series like the others
                self.charts.curves.add(event.frames, {"eval_return": event.mean_return})
            best = status.progress.best_eval
            status.update_progress(
                last_eval=event.mean_return,
                best_eval=event.mean_return if best is None else max(best, event.mean_return),
            )
        elif isinstance(event, HparamsChanged):
            label = ", ".join(f"{key}={value}" for key, value in event.changes.items())
            self.charts.curves.add_marker(event.frames, label)
            self.hparams.applied(event.changes)
        elif isinstance(event, HparamsRejected) and not replaying:
            self.hparams.rejected(event.values, event.reason)

    def _on_status(self, event: StatusChanged) -> None:
        status = self.status
        if status.progress.started is None:
            status.update_progress(started=event.time)
        if event.total_frames:
            status.update_progress(total_frames=event.total_frames)
        if event.state in FINAL_STATES:
            status.update_progress(ended=event.time, reason=event.reason if event.state == "failed" else "")
            self.hparams.set_editable(False)
        self._set_state(event.state)
        if event.state == "failed":
            self.app.notify(event.reason or "the run failed", title="Run failed", severity="error")

    def _set_state(self, state: str) -> None:
        self.state = state
        self.status.update_progress(state=state)
        self.refresh_bindings()

    # ---- layout -------------------------------------------------------------------------------

    def on_resize(self, event) -> None:
        width, height = event.size
        self.charts.set_grid(width >= GRID_MIN_SIZE[0] and height >= GRID_MIN_SIZE[1])
        self.set_class(width >= SIDE_MIN_WIDTH, "-wide")

    # ---- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LIVE_ACTIONS and not self.has_live_run:
            return False  # hidden: there is no live run to steer
        if action == "step_batch" and self.state != "paused":
            return False  # stepping one batch only makes sense while paused
        return True

    def action_pause_resume(self) -> None:
        self._send(self.handle, Resume() if self.state == "paused" else Pause())

    def action_stop(self) -> None:
        self._send(self.handle, Stop())

    def action_checkpoint(self) -> None:
        self._send(self.handle, CheckpointNow())

    def action_step_batch(self) -> None:
        self._send(self.handle, StepBatch())

    def action_edit_hparams(self) -> None:
        side = self.hparams
        editable = [field for field in side.query(Input) if not field.disabled]
        if side.has_class("-open") and not editable:
            side.remove_class("-open")  # a read-only pane has no input to leave with escape
            return
        side.add_class("-open")
        if editable:
            editable[0].focus()

    def action_cycle_chart(self, step: int) -> None:
        self.charts.action_cycle(step)

    def on_unmount(self) -> None:
        if self.handle is not None:
            self.handle.close()
