"""Statistics over several runs of one setup (a seed group), as rliable recommends (Agarwal et al.,
"Deep RL at the edge of the statistical precipice", 2021): the interquartile mean (the mean of the
middle 50 % of runs, scipy's ``trim_mean(x, 0.25)``) beside the mean, each with a 95 % percentile
bootstrap interval over runs. numpy only (no torch): the app computes them before torch loads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_REPS = 2000
#: points of an aligned group curve
GRID_POINTS = 100
#: episode returns are smoothed over this many episodes before runs are aligned (as the charts do)
SMOOTHING_WINDOW = 20

Series = Sequence[tuple[int, float]]


def iqm(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """The interquartile mean along ``axis``: ``int(n / 4)`` values cut from each end, as
    ``scipy.stats.trim_mean(values, 0.25)`` (rliable's IQM)."""
    values = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = values.shape[axis]
    cut = int(0.25 * n)
    return np.take(values, range(cut, n - cut), axis=axis).mean(axis=axis)


def mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    return np.asarray(values, dtype=float).mean(axis=axis)


def bootstrap_interval(
    values: np.ndarray,
    statistic: Callable[..., np.ndarray] = mean,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The percentile bootstrap interval of ``statistic`` over runs (axis 0 of ``values``):
    runs resampled with replacement ``reps`` times."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(reps, len(values)))
    stats = np.stack([statistic(values[pick], axis=0) for pick in picks])
    tail = (1 - confidence) / 2 * 100
    return np.percentile(stats, tail, axis=0), np.percentile(stats, 100 - tail, axis=0)


def smoothed(series: Series, window: int = SMOOTHING_WINDOW) -> list[tuple[int, float]]:
    """Each point replaced by the mean of the last ``window`` values (the charts' smoothing)."""
    values = np.array([value for _, value in series], dtype=float)
    if not len(values):
        return []
    sums = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    means = (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)
    return [(frames, float(m)) for (frames, _), m in zip(series, means)]


@dataclass
class GroupCurve:
    """A group's curve on a common frame grid: the mean with its bootstrap band; ``runs`` holds
    each run's curve on the same grid."""

    frames: np.ndarray
    runs: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def align(curves: Sequence[Series], points: int = GRID_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Every curve interpolated onto one grid over the frames all of them cover; ValueError when
    they share none."""
    curves = [c for c in curves if len(c)]
    if not curves:
        raise ValueError("no run has this metric yet")
    start = max(c[0][0] for c in curves)
    end = min(c[-1][0] for c in curves)
    if end < start:
        raise ValueError("the runs share no frames yet")
    grid = np.unique(np.linspace(start, end, points).round())
    matrix = np.stack([np.interp(grid, [f for f, _ in c], [v for _, v in c]) for c in curves])
    return grid, matrix


def group_curve(curves: Sequence[Series], points: int = GRID_POINTS) -> GroupCurve:
    grid, matrix = align(curves, points)
    low, high = bootstrap_interval(matrix)
    return GroupCurve(grid, matrix, mean(matrix), low, high)


@dataclass
class ScoreSummary:
    """Final or best returns of a group's runs: mean and IQM with their 95 % intervals."""

    values: list[float]
    mean: float
    mean_interval: tuple[float, float]
    iqm: float
    iqm_interval: tuple[float, float]


def score_summary(values: Sequence[float]) -> ScoreSummary:
    scores = np.asarray(values, dtype=float)
    mean_low, mean_high = bootstrap_interval(scores)
    iqm_low, iqm_high = bootstrap_interval(scores, iqm)
    return ScoreSummary(
        list(map(float, scores)),
        float(mean(scores)),
        (float(mean_low), float(mean_high)),
        float(iqm(scores)),
        (float(iqm_low), float(iqm_high)),
    )
