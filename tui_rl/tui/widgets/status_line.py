"""The run's status in one line: state, frames, frames/s, elapsed time, ETA, evaluation returns."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import Static

from tui_rl.engine.protocol import FINAL_STATES
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


@dataclass(frozen=True)
class RunProgress:
    """What the status line shows; times are the trainer's wall-clock seconds."""

    state: str = "idle"
    frames: int = 0
    total_frames: int = 0
    fps: float | None = None
    started: float | None = None
    ended: float | None = None
    best_eval: float | None = None
    last_eval: float | None = None
    reason: str = ""


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def describe(progress: RunProgress, now: float) -> Text:
    if progress.state == "idle":
        return Text("No run yet: press s to start one from the setup, or open one in Runs (3).", style="dim")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(progress.state.upper(), STATE_STYLES.get(progress.state, "bold"))
    total = f"/{frames_label(progress.total_frames)}" if progress.total_frames else ""
    text.append(f" │ {frames_label(progress.frames)}{total}")
    if progress.total_frames:
        text.append(f" {100 * progress.frames / progress.total_frames:.0f}%")
    if progress.fps is not None:
        text.append(f" │ {frames_label(progress.fps)} fps")
    if progress.started is not None:
        end = progress.ended if progress.ended is not None else now
        text.append(f" │ {clock(end - progress.started)}")
        remaining = progress.total_frames - progress.frames
        if progress.state == "running" and progress.fps and remaining > 0:
            text.append(f" ETA {clock(remaining / progress.fps)}")
    if progress.best_eval is not None:
        text.append(f" │ eval {progress.last_eval:.4g} best {progress.best_eval:.4g}")
    if progress.reason:
        text.append(f" │ {progress.reason}", "red")
    return text


class StatusLine(Static):
    """One line about the shown run; ticks once a second while the run is live for elapsed / ETA.

    Many changes in one UI turn (a burst of events) repaint once; the line never changes height,
    so a repaint needs no layout of the screen.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.progress = RunProgress()
        self._repaint_pending = False

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self._show()

    def update_progress(self, **changes) -> None:
        self.progress = replace(self.progress, **changes)
        self._repaint()

    def reset(self, **values) -> None:
        self.progress = RunProgress(**values)
        self._repaint()

    def _repaint(self) -> None:
        if not self._repaint_pending:
            self._repaint_pending = True
            self.call_later(self._show)

    def _tick(self) -> None:
        if self.progress.state not in FINAL_STATES and self.progress.started is not None:
            self._show()

    def _show(self) -> None:
        self._repaint_pending = False
        self.update(describe(self.progress, time.time()), layout=False)
