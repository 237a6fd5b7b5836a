"""Live training charts: bounded, decimated metric histories drawn with plotext.

textual-plotext rebuilds a whole chart on every refresh, so charts redraw on a 2.5 Hz timer and only
when their data or size changed; each series keeps at most ``CAPACITY`` buckets (min / max / mean),
halving its resolution when full, and is reduced to about the canvas width when drawn. Memory and
redraw cost stay bounded however long the run; the full series lives on disk in the run folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Tab, Tabs

from tui_rl.config.algorithms import DECLARED_METRICS
from tui_rl.config.metrics import EPISODE_LENGTH, EPISODE_RETURN, GROUPS, PER_GROUP, RETURN, Group, parse_group_metric
from tui_rl.tui.widgets.metric_series import SMOOTHED_RETURN, SMOOTHING_WINDOW, DecimatedSeries, RunCurves
from tui_rl.tui.widgets.plotext_figure import PlotextFigure

REDRAW_HZ = 2.5  # "at least twice a second", with room for a late timer


@dataclass(frozen=True)
class ChartSpec:
    """One chart: which metrics it draws, by name."""

    key: str
    tab: str
    title: str
    metrics: tuple[str, ...] = ()
    #: figures logged per group of agents (config/metrics.py's ``PER_GROUP``) it draws, one line
    #: per group, named for the group
    per_group: tuple[str, ...] = ()


def chart_of(group: Group) -> ChartSpec:
    """The chart of a group: every declared metric in it (config/metrics.py, and each algorithm's
    in the registry), in declaration order, then each group of agents' line of its per-group figures."""
    names = tuple(m.name for m in DECLARED_METRICS if m.group == group)
    per_group = tuple(m.metric.name for m in PER_GROUP if m.metric.group == group)
    return ChartSpec(group.key, group.tab, group.title,
                     names + ((SMOOTHED_RETURN,) if group == RETURN else ()), per_group)


def series_label(name: str) -> str:
    """A series' legend: the group's name for a per-group figure, else its own (or its ``LABELS``)."""
    parsed = parse_group_metric(name)
    return parsed[0] if parsed else LABELS.get(name, name)


CHARTS = tuple(chart_of(group) for group in GROUPS if group.chart)

LABELS = {EPISODE_RETURN.name: "raw", SMOOTHED_RETURN: f"mean of {SMOOTHING_WINDOW}"}
#: Series of one sample per episode, drawn as dots: a line through them zigzags over the whole
#: height, which is unreadable and, in plotext, several times the cost of a smooth line.
SAMPLES = frozenset({LABELS[EPISODE_RETURN.name], EPISODE_LENGTH.name})
SERIES_COLORS = ("cyan", "orange", "magenta", "green", "red", "blue")
#: Without colour (NO_COLOR) the series differ by marker: the legend shows which is which.
SERIES_MARKERS = ("braille", "•", "+", "x", "o", "*")
#: a seed group's confidence band: a light shade that the lines over it stay readable on
BAND_MARKER = "░"


def frames_label(frames: float) -> str:
    """A short axis label: 0, 512, 25k, 1.5M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(frames) >= scale:
            return f"{frames / scale:.3g}{suffix}"
    return f"{frames:.0f}"


def round_ticks(high: float, most: int = 5) -> list[float]:
    """Ticks at round steps (1, 2 or 5 times a power of ten) from 0 to ``high``, at most ``most``."""
    if high <= 0:
        return [0]
    magnitude = 10 ** math.floor(math.log10(high / most))
    step = next(m * magnitude for m in (1, 2, 5, 10) if high / (m * magnitude) <= most)
    return [i * step for i in range(int(high / step + 1e-9) + 1)]


def draw_lines(
    plot: PlotextFigure,
    title: str,
    lines: Iterable[tuple[str, DecimatedSeries]],
    markers: Iterable[tuple[int, str]] = (),
    width: int | None = None,
    bands: Mapping[str, tuple[DecimatedSeries, DecimatedSeries]] = MappingProxyType({}),
) -> None:
    """Replace ``plot``'s figure with ``lines`` (label, series) against frames, and labelled vertical
    markers, each series cut to about ``width`` (default: the plot's own) points. A line whose
    label is in ``bands`` has that band (its low and high edges) shaded in its colour, under
    every line."""
    plt = plot.plt
    plt.clear_figure()
    plt.title(title)
    width = max(8, (width or plot.size.width) - 10)  # the y tick labels take about ten columns
    no_color = plot.app.no_color
    x_max = 0
    y_min, y_max = math.inf, -math.inf
    drawn = 0
    shown = [(index, label, series) for index, (label, series) in enumerate(lines) if len(series)]
    for index, label, _ in shown:  # first: the lines are drawn over the bands
        low, high = bands.get(label, (DecimatedSeries(), DecimatedSeries()))
        if len(low) and len(high):
            color = SERIES_COLORS[index % len(SERIES_COLORS)]
            plt.plot(*band_outline(low, high, width), marker=BAND_MARKER, color=color)
    for index, label, series in shown:
        xs, ys = series.points(width)
        marker = SERIES_MARKERS[index % len(SERIES_MARKERS)] if no_color else "braille"
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        draw = plt.scatter if label in SAMPLES else plt.plot
        draw(xs, ys, label=label, marker=marker, color=color)
        x_max = max(x_max, xs[-1])
        y_min, y_max = min(y_min, min(ys)), max(y_max, max(ys))
        drawn += 1
    if not drawn:
        plt.xticks([])
        plt.yticks([])
        plt.text("no data yet", 0.5, 0.5, alignment="center")
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        return
    labels = sorted((frames, f"▏{label}") for frames, label in markers if frames <= x_max)
    # Labelled at the top, so a marker does not pass for a grid line; a label that would run into
    # an earlier one goes a text row lower (an edit and its undo share a frame).
    row_height = (y_max - y_min) / max(1, (plot.size.height or 20) - 6)
    for (frames, label), row in zip(labels, label_rows(labels, x_max, width)):
        plt.vertical_line(frames, color="gray")
        plt.text(label, frames, y_max - row * row_height, color="gray", alignment="left")
    ticks = round_ticks(x_max)
    plt.xticks(ticks, [frames_label(t) for t in ticks])
    plt.xlim(0, x_max or 1)


def band_outline(low: DecimatedSeries, high: DecimatedSeries, width: int) -> tuple[list[int], list[float]]:
    """One path up and down between a band's edges at each point, running along them in between:
    drawn with a shade character it fills the band (scattered dots of its edges read as noise)."""
    (xs, lows), (_, highs) = low.points(width), high.points(width)
    path_x: list[int] = []
    path_y: list[float] = []
    for i, (x, bottom, top) in enumerate(zip(xs, lows, highs)):
        path_x += [x, x]
        path_y += [bottom, top] if i % 2 == 0 else [top, bottom]
    return path_x, path_y


def label_rows(markers: list[tuple[int, str]], x_max: float, columns: int) -> list[int]:
    """For markers in frame order, the text row of each label (0: the top): the first row where
    it starts after the labels already there end."""
    ends: list[float] = []  # per row, the column after its last label
    rows = []
    for frames, label in markers:
        start = frames / (x_max or 1) * columns
        row = next((i for i, end in enumerate(ends) if start >= end), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = start + len(label) + 1
        rows.append(row)
    return rows


class MetricChart(PlotextFigure):
    """One live chart of a run's curves, drawing whichever :class:`ChartSpec` it is given."""

    def __init__(self, spec: ChartSpec, curves: RunCurves, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.curves = curves
        self._drawn_key: tuple | None = None

    def show(self, spec: ChartSpec) -> None:
        self.spec = spec
        self.update_figure(self.size.width)

    def figure_key(self, width: int) -> tuple:
        """What the figure drawn at ``width`` columns shows: the figure is redone when it changes."""
        names = self.curves.matching(self.spec.metrics, self.spec.per_group)
        revisions = tuple((n, self.curves.series[n].revision) for n in names)
        return self.spec, revisions, self.curves.marker_revision, width, id(self.curves)

    @property
    def is_up_to_date(self) -> bool:
        """Whether the figure shows the current curves at the chart's current width."""
        return self._drawn_key == self.figure_key(self.size.width)

    def update_figure(self, width: int) -> None:
        """Redo the figure for ``width`` columns if its data changed, and repaint."""
        key = self.figure_key(width)
        if key == self._drawn_key or not width:
            return
        self._drawn_key = key
        names = self.curves.matching(self.spec.metrics, self.spec.per_group)
        lines = [(series_label(n), self.curves.series[n]) for n in names]
        if self.spec.key == RETURN.key:
            lines += list(self.curves.overlays.items())
        draw_lines(self, self.spec.title, lines, self.curves.markers, width)
        self.refresh()


class ChartTabs(Tabs):
    """Tabs whose underline jumps instead of gliding: the glide repaints the screen for 0.3 s
    after every switch, which costs CPU beside a trainer and bandwidth over SSH."""

    def _highlight_active(self, animate: bool = True) -> None:
        super()._highlight_active(animate=False)


class TrainingCharts(Widget):
    """Every training chart: all of them in a grid in large terminals (``set_grid``), else one at
    a time under tabs. One at a time is one chart widget that changes what it draws, so switching
    repaints a chart without laying out the screen again."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.curves = RunCurves()
        self.selected = CHARTS[0]

    def compose(self) -> ComposeResult:
        yield ChartTabs(*(Tab(spec.tab, id=f"tab-{spec.key}") for spec in CHARTS), id="chart-tabs")
        with Container(id="chart-grid"):
            for index, spec in enumerate(CHARTS):
                yield MetricChart(spec, self.curves, classes="-viewer" if index == 0 else "")

    def on_mount(self) -> None:
        self.set_interval(1 / REDRAW_HZ, self.redraw)

    @property
    def viewer(self) -> MetricChart:
        """The chart shown when one is shown at a time."""
        return self.query_one(".-viewer", MetricChart)

    def set_grid(self, grid: bool) -> None:
        if grid == self.has_class("-grid"):
            return
        self.set_class(grid, "-grid")
        for chart, spec in zip(self.query(MetricChart), CHARTS):
            chart.spec = spec
        if not grid:
            self.viewer.spec = self.selected
        self.call_after_refresh(self.redraw)

    def reset(self) -> RunCurves:
        """Start from empty curves (a new or another run); returns them for feeding."""
        self.curves = RunCurves()
        for chart in self.query(MetricChart):
            chart.curves = self.curves
        self.redraw()
        return self.curves

    def redraw(self) -> None:
        if not self.screen.is_current:
            return  # another mode is shown: nothing to paint
        for chart in self.query(MetricChart):
            if chart.display:
                chart.update_figure(chart.size.width)

    def select(self, spec: ChartSpec) -> None:
        """Show ``spec``'s chart (one at a time) and its tab."""
        self.selected = spec
        if not self.has_class("-grid"):
            self.viewer.show(spec)
        self.query_one(ChartTabs).active = f"tab-{spec.key}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        self.select(next(spec for spec in CHARTS if f"tab-{spec.key}" == event.tab.id))

    def action_cycle(self, step: int) -> None:
        # The chart is redrawn here, not when the tabs report back: then it joins the tabs' repaint
        # instead of waiting for the next frame.
        self.select(CHARTS[(CHARTS.index(self.selected) + step) % len(CHARTS)])
