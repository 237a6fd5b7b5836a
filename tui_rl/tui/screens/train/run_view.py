"""What the Train screen shows of one run, fed from its record on disk and from live events.

One room for turning a run's history and events into the status line, the charts, the event log
and the live hyperparameters panel; the screen decides which run and when.
"""

from __future__ import annotations

from tui_rl.config.metrics import EVAL_RETURN, FPS
from tui_rl.engine.protocol import (
    FINAL_STATES,
    Alert,
    Undone,
    Evaluated,
    Event,
    HparamsChanged,
    HparamsRejected,
    Metrics,
    StatusChanged,
)
from tui_rl.engine.runs.lineage import Lineage
from tui_rl.engine.runs.folder import RunHistory
from tui_rl.tui.widgets.charts import TrainingCharts
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.widgets.live_hparams import LiveHparams
from tui_rl.tui.widgets.status_line import StatusLine


class RunView:
    """The Train screen's widgets for one run."""

    def __init__(
        self, status: StatusLine, charts: TrainingCharts, log: EventLog, hparams: LiveHparams
    ) -> None:
        self.status = status
        self.charts = charts
        self.log = log
        self.hparams = hparams

    def clear(self, state: str) -> None:
        self.charts.reset()
        self.log.clear()
        self.status.reset(state=state)

    def replay(self, history: RunHistory, lineage: Lineage | None = None) -> str | None:
        """Fill in from the run's record on disk (summary, metric series, logged events), after
        what a branch inherits (its parent's curves up to the branch, its siblings beside it);
        returns the last state its events say."""
        curves = self.charts.curves
        if lineage is not None:
            for name, points in lineage.inherited.items():
                for frames, value in points:
                    curves.add(frames, {name: value})
            for frames, label in lineage.branch_points:
                curves.add_marker(frames, label)
            for name, points in lineage.siblings:
                curves.add_overlay(name, points)
        for name, points in history.metrics.items():
            for frames, value in points:
                curves.add(frames, {name: value})
        summary = history.summary
        fps = history.metrics.get(FPS.name)
        self.status.update_progress(
            frames=summary.frames,
            total_frames=summary.total_frames,
            fps=fps[-1][1] if fps else None,
            best_eval=summary.best_eval,
            last_eval=summary.last_eval,
        )
        state = None
        for event in history.events:
            state = self.apply(event, replaying=True) or state
        self.hparams.set_editable(self.hparams.editable)  # no "Applied ..." note for past changes
        return state

    def apply(self, event: Event, replaying: bool = False) -> str | None:
        """Show ``event``; returns the run's new state when it says one."""
        status = self.status
        if event.frames > status.progress.frames or isinstance(event, Undone):  # an undo goes back
            status.update_progress(frames=event.frames)
        if isinstance(event, Metrics):
            self.charts.curves.add(event.frames, event.values)
            if FPS.name in event.values:
                status.update_progress(fps=event.values[FPS.name])
            return None
        self.log.add_event(event)
        if isinstance(event, StatusChanged):
            self._on_status(event, replaying)
            return event.state
        if isinstance(event, Evaluated):
            if not replaying:  # on disk, evaluations are a metric series like the others
                self.charts.curves.add(event.frames, {EVAL_RETURN.name: event.mean_return})
            best = status.progress.best_eval
            status.update_progress(
                last_eval=event.mean_return,
                best_eval=event.mean_return if best is None else max(best, event.mean_return),
            )
        elif isinstance(event, HparamsChanged):
            self.charts.curves.add_marker(event.frames, marker_label(event.changes))
            self.hparams.applied(event.changes)
        elif isinstance(event, HparamsRejected) and not replaying:
            self.hparams.rejected(event.values, event.reason)
        elif isinstance(event, Undone):  # the values before the undone edit hold again
            self.charts.curves.add_marker(event.frames, "undo")
            self.hparams.applied(event.restored)
        elif isinstance(event, Alert):
            self.charts.curves.add_marker(event.frames, f"! {event.metric}")
            if not replaying:
                app = self.status.app
                app.bell()
                app.notify(f"{event.message}. Try: {event.action}", title=f"Alert: {event.kind.replace('_', ' ')}",
                           severity="error" if event.kind == "nan" else "warning", markup=False)
        return None

    def _on_status(self, event: StatusChanged, replaying: bool) -> None:
        status = self.status
        progress = status.progress
        if progress.started is None:
            status.update_progress(started=event.time)
        if progress.ended is not None and event.state not in FINAL_STATES:
            # Continued after it ended: the time it stood still was not trained, its reason is past.
            status.update_progress(
                paused_seconds=progress.paused_seconds + max(0.0, event.time - progress.ended), ended=None, reason=""
            )
        if event.total_frames:
            status.update_progress(total_frames=event.total_frames)
        status.paused_at(event.time, event.state == "paused")
        if event.state in FINAL_STATES:
            # A finished run says why it ended (the target reached, the frames done) as a failed one does.
            status.update_progress(ended=event.time, reason=event.reason)
            self.hparams.set_editable(False)
        if replaying:
            return
        if event.state == "failed":
            self.status.app.notify(
                event.reason or "the run failed", title="Run failed", severity="error", markup=False
            )
        elif event.state == "finished" and event.reason:
            self.status.app.notify(event.reason, title="Run finished", markup=False)


def marker_label(changes: dict) -> str:
    """A chart marker's label: the changed fields' last names and values (``lr=0.0003``)."""
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={value:g}" if isinstance(value, float)
                     else f"{key.rsplit('.', 1)[-1]}={value}" for key, value in changes.items())
