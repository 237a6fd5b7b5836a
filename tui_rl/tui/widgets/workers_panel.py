"""The Train screen's workers panel: per collector worker its frames/s, whether it is alive and
how many policy updates it is behind, then the replay buffer's fill, write rate and
update-to-data ratio. It reads the metric values the trainer sends (config/metrics.py names
them, in its workers group), live or from the run's history, and shows itself once a run has collector workers. Once
the run has ended, nothing is alive or collecting, whatever the last figures said."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui_rl.config.metrics import (
    COLLECT_FPS,
    REPLAY_FILL,
    REPLAY_UTD,
    REPLAY_WRITES,
    RUN_METRICS,
    WORKER_ALIVE,
    WORKER_FPS,
    WORKER_LAG,
    WORKERS,
    WORKERS_ALIVE,
    parse_worker_metric,
)
from tui_rl.engine.protocol import FINAL_STATES

#: the panel's figures besides the per-worker ones
PANEL_METRICS = frozenset(m.name for m in RUN_METRICS if m.group == WORKERS)


class WorkersPanel(Static):
    """Collector workers and the replay buffer, from the latest metric values."""

    DEFAULT_CLASSES = "-empty"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.latest: dict[str, float] = {}
        #: the state the run ended in ("stopped", "finished", "failed"), "" while it has not
        self.ended = ""

    def reset(self) -> None:
        self.latest = {}
        self.ended = ""
        self.add_class("-empty")
        self.update("")

    def show_state(self, state: str) -> None:
        """The run's state (from the Train screen): an ended run's workers are gone."""
        ended = state if state in FINAL_STATES else ""
        if ended != self.ended:
            self.ended = ended
            if not self.has_class("-empty"):
                self.update(self.render_table())

    def show(self, values: Mapping[str, float]) -> None:
        """Take a Metrics event's values; anything that is not the panel's is ignored."""
        mine = {k: v for k, v in values.items() if k in PANEL_METRICS or parse_worker_metric(k)}
        if not mine:
            return
        self.latest.update(mine)
        if WORKERS_ALIVE.name in self.latest:
            self.remove_class("-empty")
            self.update(self.render_table())

    def show_history(self, series: Mapping[str, list[tuple[int, float]]]) -> None:
        """Take a run's metric series from disk: the last value of each."""
        self.show({name: points[-1][1] for name, points in series.items() if points})

    def render_table(self) -> Table:
        values = self.latest
        workers: dict[int, dict[str, float]] = {}
        for key, value in values.items():
            parsed = parse_worker_metric(key)
            if parsed:
                index, figure = parsed
                workers.setdefault(index, {})[figure.figure] = value
        table = Table(box=None, padding=(0, 1), expand=False, show_edge=False)
        if self.ended:
            title = f"Workers {len(workers)}: none running, the run {self.ended}"
        else:
            title = f"Workers {int(values.get(WORKERS_ALIVE.name, 0))}/{len(workers)} alive"
            if COLLECT_FPS.name in values:
                title += f" · collecting {values[COLLECT_FPS.name]:,.0f} {COLLECT_FPS.unit}"
        table.title = title
        table.title_justify = "left"
        for column in ("worker", "frames/s", "alive", "lag"):
            table.add_column(column, justify="right")
        for index in sorted(workers):
            figures = workers[index]
            alive = figures.get(WORKER_ALIVE.figure, 0) > 0
            table.add_row(
                str(index),
                "-" if self.ended else f"{figures.get(WORKER_FPS.figure, 0):,.0f}",
                Text("ended", "dim") if self.ended else Text("yes", "green") if alive else Text("dead", "bold red"),
                "-" if WORKER_LAG.figure not in figures else f"{figures[WORKER_LAG.figure]:.0f}",
            )
        if REPLAY_FILL.name in values:
            line = f"Replay {values[REPLAY_FILL.name]:.0%} full"
            if not self.ended:
                line += f" · {values.get(REPLAY_WRITES.name, 0):,.0f} {REPLAY_WRITES.unit}"
            if REPLAY_UTD.name in values:
                line += f" · {values[REPLAY_UTD.name]:.3g} {REPLAY_UTD.unit}"
            table.caption = line
            table.caption_justify = "left"
        return table
