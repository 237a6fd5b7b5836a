"""A run's metrics as the live charts keep them: each series bounded and decimated (at most
``CAPACITY`` min / max / mean buckets, halving its resolution when full), the smoothed return, and
the markers of live edits. Plain data, drawn by ``charts.py``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from tui_rl.config.metrics import EPISODE_RETURN, parse_group_metric

CAPACITY = 512
SMOOTHING_WINDOW = 20
MAX_MARKERS = 64


class DecimatedSeries:
    """One metric's history as at most ``capacity`` buckets of consecutive points.

    Each bucket keeps the frame count of its last point and the min, max, sum and count of its
    values. When the buckets are full, neighbours merge pairwise: resolution halves, memory stays put.
    """

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.span = 1  # points per full bucket; doubles at each halving
        self.revision = 0
        self.last: float | None = None
        self.xs: list[int] = []
        self.lows: list[float] = []
        self.highs: list[float] = []
        self.sums: list[float] = []
        self.counts: list[int] = []

    def __len__(self) -> int:
        return len(self.xs)

    def add(self, x: int, y: float) -> None:
        if not math.isfinite(y):
            return  # NaN / inf cannot be drawn; the event log says why the run failed
        self.revision += 1
        self.last = y
        if self.counts and self.counts[-1] < self.span:
            self.xs[-1] = x
            self.lows[-1] = min(self.lows[-1], y)
            self.highs[-1] = max(self.highs[-1], y)
            self.sums[-1] += y
            self.counts[-1] += 1
            return
        if len(self.xs) >= self.capacity:
            self._halve()
        self.xs.append(x)
        self.lows.append(y)
        self.highs.append(y)
        self.sums.append(y)
        self.counts.append(1)

    def _halve(self) -> None:
        groups = self._grouped(2)
        self.xs, self.lows, self.highs, self.sums, self.counts = (list(g) for g in groups)
        self.span *= 2

    def _grouped(self, size: int) -> tuple[list, list, list, list, list]:
        """Buckets merged ``size`` at a time: (last x, min, max, sum, count) of each group."""
        xs, lows, highs, sums, counts = [], [], [], [], []
        for start in range(0, len(self.xs), size):
            end = start + size
            xs.append(self.xs[min(end, len(self.xs)) - 1])
            lows.append(min(self.lows[start:end]))
            highs.append(max(self.highs[start:end]))
            sums.append(sum(self.sums[start:end]))
            counts.append(sum(self.counts[start:end]))
        return xs, lows, highs, sums, counts

    def points(self, width: int) -> tuple[list[int], list[float]]:
        """At most about ``width`` points (x, mean) for drawing."""
        size = max(1, math.ceil(len(self.xs) / max(1, width)))
        xs, _, _, sums, counts = self._grouped(size) if size > 1 else (
            self.xs, None, None, self.sums, self.counts
        )
        return list(xs), [s / c for s, c in zip(sums, counts)]


class RunCurves:
    """Every metric of one run, decimated, plus hyperparameter-change markers (frames, label)."""

    def __init__(self) -> None:
        self.series: dict[str, DecimatedSeries] = {}
        self.markers: deque[tuple[int, str]] = deque(maxlen=MAX_MARKERS)
        self.marker_revision = 0
        #: other runs' curves drawn on the return chart (sibling branches), by label
        self.overlays: dict[str, DecimatedSeries] = {}
        self._recent_returns: deque[float] = deque(maxlen=SMOOTHING_WINDOW)

    def add(self, frames: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self._series(name).add(frames, float(value))
        episode_return = values.get(EPISODE_RETURN.name)
        if episode_return is not None and math.isfinite(episode_return):
            # Smoothed return: the mean of the last SMOOTHING_WINDOW logged returns.
            self._recent_returns.append(float(episode_return))
            smoothed = sum(self._recent_returns) / len(self._recent_returns)
            self._series(SMOOTHED_RETURN).add(frames, smoothed)

    def add_overlay(self, label: str, points: Iterable[tuple[int, float]]) -> None:
        series = self.overlays[label] = DecimatedSeries()
        for frames, value in points:
            series.add(frames, value)
        self.marker_revision += 1

    def add_marker(self, frames: int, label: str) -> None:
        self.markers.append((frames, label))
        self.marker_revision += 1

    def _series(self, name: str) -> DecimatedSeries:
        if name not in self.series:
            self.series[name] = DecimatedSeries()
        return self.series[name]

    def matching(self, names: tuple[str, ...], per_group: tuple[str, ...] = ()) -> list[str]:
        """The series of ``names`` this run has, then those of each group of agents logged under
        a figure of ``per_group`` (``episode_return/<group>``), in the order they came."""
        grouped = [n for n in self.series if (parsed := parse_group_metric(n)) and parsed[1].metric.name in per_group]
        return [n for n in names if n in self.series] + grouped


#: the return chart's second line, computed here from the logged returns
SMOOTHED_RETURN = f"{EPISODE_RETURN.name}_smoothed"


def series_of(points: Iterable[tuple[int, float]]) -> DecimatedSeries:
    series = DecimatedSeries()
    for frames, value in points:
        series.add(frames, value)
    return series
