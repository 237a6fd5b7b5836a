"""The run's status in one line: state, frames, frames/s, elapsed time, ETA, evaluation returns."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from rich.console import Group, RenderableType
from rich.text import Text
from textual.widgets import Static

from tui_rl.engine.runs.counters import RunCounters
from tui_rl.tui.widgets.charts import frames_label

STATE_STYLES = {
    "starting": "bold yellow",
    "running": "bold green",
    "paused": "bold yellow",
    "finished": "bold cyan",
    "stopped": "bold",
    "failed": "bold red",
    "disconnected": "bold red",
}
#: Repaints a second at most: a run on tiny batches sends a hundred metrics a second, and a repaint
#: for each would cost the app a fifth of a core (and an SSH link its bandwidth) for figures no one
#: reads that fast.
MAX_REPAINT_HZ = 10


@dataclass(kw_only=True)
class RunProgress(RunCounters):
    """What the status line shows: the run's counters (frames, evaluations), and its state and
    clock; times are the trainer's wall-clock seconds."""

    state: str = "idle"
    total_frames: int = 0
    fps: float | None = None
    started: float | None = None
    ended: float | None = None
    reason: str = ""
    #: time spent paused before the current pause, and when the current pause began
    paused_seconds: float = 0.0
    paused_since: float | None = None

    def elapsed(self, now: float) -> float:
        """Seconds trained: from the start to the end (or ``now``), pauses left out."""
        end = self.ended if self.ended is not None else now
        paused = self.paused_seconds + (end - self.paused_since if self.paused_since is not None else 0.0)
        return end - (end if self.started is None else self.started) - paused


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def describe(progress: RunProgress, now: float) -> RenderableType:
    """The status line, and below it, wrapped, the reason the run ended or could not start (so an
    80-column terminal shows all of it)."""
    figures = describe_figures(progress, now)
    if not progress.reason:
        return figures
    style = "" if progress.state in ("finished", "running", "paused") else "red"
    return Group(figures, Text(progress.reason, style))


def describe_figures(progress: RunProgress, now: float) -> Text:
    """One line: state, frames, frames/s, elapsed time, ETA, evaluation returns."""
    if progress.state == "idle":
        if progress.reason:
            return Text("NOT STARTED", "bold red")
        return Text("No run yet: press s to start one from the setup, or open one in Runs (3).", style="dim")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(progress.state.upper(), STATE_STYLES.get(progress.state, "bold"))
    total = f"/{frames_label(progress.total_frames)}" if progress.total_frames else ""
    text.append(f" │ {frames_label(progress.frames)}{total}")
    if progress.total_frames:
        # The last batch may overshoot the budget: a run is never more than done.
        text.append(f" {min(100.0, 100 * progress.frames / progress.total_frames):.0f}%")
    if progress.fps is not None:
        text.append(f" │ {frames_label(progress.fps)} fps")
    if progress.started is not None:
        text.append(f" │ {clock(progress.elapsed(now))}")
        remaining = progress.total_frames - progress.frames
        if progress.state == "running" and progress.fps and remaining > 0:
            text.append(f" ETA {clock(remaining / progress.fps)}")
    if progress.best_eval is not None:
        text.append(f" │ eval {progress.last_eval:.4g} best {progress.best_eval:.4g}")
    return text


class StatusLine(Static):
    """One line about the shown run; ticks once a second while the run trains for elapsed / ETA.

    Changes repaint at most ``MAX_REPAINT_HZ`` times a second (a burst of events repaints once); the
    line changes height only when a reason comes or goes (the run ended), so a live repaint needs no
    layout of the screen.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.progress = RunProgress()
        self._repaint_pending = False
        self._shown_reason = ""
        self._shown_at = -math.inf  # time.monotonic() of the last repaint

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self._show()

    def update_progress(self, **changes) -> None:
        self.progress = replace(self.progress, **changes)
        self._repaint()

    def paused_at(self, time: float, paused: bool) -> None:
        """The run was paused (or went on) at the trainer's wall-clock ``time``: the clock stops."""
        progress = self.progress
        if paused and progress.paused_since is None:
            self.update_progress(paused_since=time)
        elif not paused and progress.paused_since is not None:
            self.update_progress(
                paused_seconds=progress.paused_seconds + time - progress.paused_since, paused_since=None
            )

    def reset(self, **values) -> None:
        self.progress = RunProgress(**values)
        self._repaint()

    def _repaint(self) -> None:
        if self._repaint_pending:
            return
        self._repaint_pending = True
        wait = self._shown_at + 1 / MAX_REPAINT_HZ - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._show)
        else:
            self.call_later(self._show)

    def _tick(self) -> None:
        progress = self.progress
        if progress.state == "running" and progress.started is not None:
            self._repaint()  # not _show(): one repaint waiting at a time

    def _show(self) -> None:
        self._repaint_pending = False
        self._shown_at = time.monotonic()
        reason = self.progress.reason
        self.update(describe(self.progress, time.time()), layout=reason != self._shown_reason)
        self._shown_reason = reason
