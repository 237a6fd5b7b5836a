"""The run's event log: starts, evaluations, checkpoints, hyperparameter changes, warnings and
errors with their reasons, each with the frame count it happened at."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.widgets import RichLog

from tui_rl.engine.protocol import (
    Alert,
    Checkpointed,
    Evaluated,
    Event,
    HparamsChanged,
    HparamsRejected,
    Log,
    StatusChanged,
    Undone,
)

LEVEL_STYLES = {"info": "", "warning": "yellow", "error": "bold red"}
MAX_LINES = 1000
FRAMES_WIDTH = 10


def format_values(values: dict) -> str:
    return ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in values.items())


def describe_event(event: Event) -> tuple[str, str] | None:
    """``(level, message)`` for an event worth a log line, else None (metrics, rollouts)."""
    if isinstance(event, StatusChanged):
        level = {"failed": "error", "stopped": "warning"}.get(event.state, "info")
        reason = f": {event.reason}" if event.reason else ""
        return level, f"run {event.state}{reason}"
    if isinstance(event, HparamsChanged):
        changes = ", ".join(
            f"{key} {event.previous[key]} → {value}" if key in event.previous else f"{key}={value}"
            for key, value in event.changes.items()
        )
        return "info", f"hyperparameters changed: {changes}"
    if isinstance(event, HparamsRejected):
        return "warning", f"refused {format_values(event.values)}: {event.reason}"
    if isinstance(event, Checkpointed):
        where = Path(event.path)
        return "info", f"checkpoint written: {where.parent.name}/{where.name}"
    if isinstance(event, Evaluated):
        return "info", (
            f"evaluation: return {event.mean_return:.4g} ± {event.std_return:.3g} "
            f"over {event.episodes} episodes"
        )
    if isinstance(event, Log):
        return event.level, event.message
    if isinstance(event, Alert):
        paused = " (run paused)" if event.paused else ""
        return ("error" if event.kind == "nan" else "warning"), f"alert{paused}: {event.message}. Try: {event.action}"
    if isinstance(event, Undone):
        return "info", f"undid a live edit: back to {format_values(event.restored)}"
    return None


class EventLog(RichLog):
    """A bounded, scrolling log of the run's events."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=MAX_LINES, min_width=20, wrap=True, markup=False, **kwargs)

    def add_event(self, event: Event) -> None:
        described = describe_event(event)
        if described is not None:
            self.add_line(*described, frames=event.frames)

    def add_line(self, level: str, message: str, frames: int | None = None) -> None:
        # Two columns, so a long message wraps under itself, not under the frame counts. The
        # message is plain Text: brackets in a reason ('tui-rl[tensorboard]') are not markup.
        line = Table.grid()
        line.add_column(width=FRAMES_WIDTH, no_wrap=True)
        line.add_column(ratio=1, overflow="fold")
        line.add_row(
            Text(f"{frames:>9,} " if frames is not None else "", "dim"),
            Text(message, LEVEL_STYLES.get(level, "")),
        )
        self.write(line)
