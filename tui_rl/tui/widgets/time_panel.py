"""The time panel (t in Train): where each batch's time goes, as the trainer last reported it
(``engine/run/batch_timing.py``): milliseconds per batch and share for each part, with a bar, and the
trainer's CPU, RAM and GPU memory. Read from the run's curves once a second while shown."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui_rl.engine.run.batch_timing import SECTIONS
from tui_rl.tui.widgets.charts import RunCurves

BAR_WIDTH = 24
LABELS = {"env_step": "env steps", "policy": "policy forward", "transforms": "transforms",
          "collector": "collector (rest)", "replay_add": "replay writes", "replay_sample": "replay sample",
          "gradient": "gradient steps", "target_update": "target updates", "evaluation": "evaluation",
          "logging": "logging"}
USAGE = (("usage_cpu_percent", "CPU", "{:.0f} %"), ("usage_ram_mb", "RAM", "{:.0f} MiB"),
         ("usage_gpu_mb", "GPU memory", "{:.0f} MiB"))


def breakdown(curves: RunCurves) -> Table | Text:
    """The latest report as a table (a note before the first)."""
    latest = {name: series.last for name, series in curves.series.items()
              if name.startswith(("time_", "usage_")) and series.last is not None}
    if not any(name.startswith("time_") for name in latest):
        return Text("No timing yet: the trainer reports every 2 s while it trains.", style="dim")
    total = sum(latest.get(f"time_{name}", 0.0) for name in SECTIONS) or 1e-9
    table = Table("part of a batch", "ms", "share", "", box=None, header_style="bold", pad_edge=False)
    for name in SECTIONS:
        ms = latest.get(f"time_{name}", 0.0)
        share = ms / total
        table.add_row(LABELS[name], f"{ms:.2f}", f"{share:.0%}", Text("█" * round(share * BAR_WIDTH), "cyan"))
    usage = "  ".join(f"{label} {fmt.format(latest[key])}" for key, label, fmt in USAGE if key in latest)
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
