"""The time panel (t in Train): where each batch's time goes, as the trainer last reported it
(``engine/run/batch_timing.py``): milliseconds per batch and share for each part, with a bar, and the
trainer's CPU, RAM and GPU memory. Read from the run's curves once a second while shown."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui_rl.config.metrics import BATCH_TIMES, USAGE
from tui_rl.tui.widgets.metric_series import RunCurves

BAR_WIDTH = 24


def breakdown(curves: RunCurves) -> Table | Text:
    """The latest report as a table (a note before the first)."""
    series = curves.series
    latest = {metric.name: series[metric.name].last for metric in (*BATCH_TIMES.values(), *USAGE)
              if metric.name in series and series[metric.name].last is not None}
    if not any(metric.name in latest for metric in BATCH_TIMES.values()):
        return Text("No timing yet: the trainer reports every 2 s while it trains.", style="dim")
    total = sum(latest.get(metric.name, 0.0) for metric in BATCH_TIMES.values()) or 1e-9
    table = Table("part of a batch", "ms", "share", "", box=None, header_style="bold", pad_edge=False)
    for metric in BATCH_TIMES.values():
        ms = latest.get(metric.name, 0.0)
        share = ms / total
        table.add_row(metric.label, f"{ms:.2f}", f"{share:.0%}", Text("█" * round(share * BAR_WIDTH), "cyan"))
    usage = "  ".join(f"{metric.label} {latest[metric.name]:.0f} {metric.unit}" for metric in USAGE
                      if metric.name in latest)
    table.caption = f"{total:.1f} ms per batch · {usage}"
    return table


class TimePanel(Static):
    """Shows :func:`breakdown` of the curves ``source`` gives, refreshed while displayed."""

    def __init__(self, source, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.source = source  # the TrainingCharts widget: its curves are replaced per run

    def on_mount(self) -> None:
        self.set_interval(1.0, self.show_latest)

    def show_latest(self) -> None:
        if self.display and self.screen.is_current:
            self.update(breakdown(self.source.curves))
