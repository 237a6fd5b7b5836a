"""Marked runs and seed groups on one chart: a run's smoothed return, a group's mean over its 95 %
bootstrap band (shaded in the group's colour), and a table of the groups' final and best returns
(mean and IQM) with their intervals. Curves are read from disk in a thread worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tui_rl.engine.runs.stats import ScoreSummary, smoothed
from tui_rl.engine.runs.external import episode_returns
from tui_rl.engine.runs.seed_groups import group_returns, group_scores
from tui_rl.tui.screens.runs.run_rows import RunRow
from tui_rl.tui.widgets.charts import draw_lines
from tui_rl.tui.widgets.metric_series import SMOOTHING_WINDOW, DecimatedSeries, series_of
from tui_rl.tui.widgets.plotext_figure import PlotextFigure

TITLE = f"Episode return (mean of {SMOOTHING_WINDOW})"


@dataclass
class Curves:
    """What the chart draws: labelled lines, each group's band edges, the groups' scores."""

    lines: list[tuple[str, DecimatedSeries]] = field(default_factory=list)
    bands: dict[str, tuple[DecimatedSeries, DecimatedSeries]] = field(default_factory=dict)
    scores: list[tuple[str, ScoreSummary | None, ScoreSummary | None]] = field(default_factory=list)


def load_curves(rows: list[RunRow]) -> Curves:
    """The curves of ``rows`` (blocking: reads run folders)."""
    curves = Curves()
    for row in rows:
        if row.group is None:
            points = smoothed(episode_returns(Path(row.run.path)))  # tui-rl's or another tool's
            curves.lines.append((row.run.name, series_of(points)))
            continue
        label = f"{row.group.name} (mean)"
        try:
            group = group_returns(row.group)
        except ValueError:  # no shared frames yet
            curves.lines.append((label, DecimatedSeries()))
        else:
            frames = [int(f) for f in group.frames]
            curves.lines.append((label, series_of(zip(frames, group.mean))))
            curves.bands[label] = (series_of(zip(frames, group.low)), series_of(zip(frames, group.high)))
        curves.scores.append((row.group.name, *group_scores(row.group)))
    return curves


def interval(score: ScoreSummary | None, which: str) -> str:
    if score is None:
        return "—"
    value, (low, high) = (score.mean, score.mean_interval) if which == "mean" else (score.iqm, score.iqm_interval)
    return f"{value:.4g} [{low:.4g}, {high:.4g}]"


def scores_table(scores: list[tuple[str, ScoreSummary | None, ScoreSummary | None]]) -> Table:
    table = Table("group", "final mean [95% CI]", "final IQM", "best mean", "best IQM", box=None,
                  header_style="bold", pad_edge=False)
    for name, final, best in scores:
        table.add_row(name, interval(final, "mean"), interval(final, "iqm"), interval(best, "mean"), interval(best, "iqm"))
    return table


class RunComparison(Vertical):
    """The chart of the marked rows and, for groups, their score table."""

    class Loaded(Message):
        def __init__(self, curves: Curves) -> None:
            super().__init__()
            self.curves = curves

    def compose(self) -> ComposeResult:
        yield PlotextFigure(id="overlay")
        yield Static("", id="group-table")

    def compare(self, rows: list[RunRow]) -> None:
        self._load(rows)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load(self, rows: list[RunRow]) -> None:
        try:
            curves = load_curves(rows)
        except Exception:  # a folder that went away meanwhile: the next refresh draws it again
            return
        self.post_message(self.Loaded(curves))

    def on_run_comparison_loaded(self, message: Loaded) -> None:
        message.stop()
        table = self.query_one("#group-table", Static)
        table.display = bool(message.curves.scores)
        if message.curves.scores:
            table.update(scores_table(message.curves.scores))
        self.call_after_refresh(self._draw, message.curves)

    def _draw(self, curves: Curves) -> None:
        plot = self.query_one("#overlay", PlotextFigure)
        draw_lines(plot, TITLE, curves.lines, bands=curves.bands)
        plot.refresh()
