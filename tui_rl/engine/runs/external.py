"""Runs written by other tools, found under the runs folder: TensorBoard event folders (CleanRL,
Stable-Baselines3, TorchRL scripts, ...) and W&B offline runs. They are listed beside tui-rl's
runs (status ``external``) and their return curves overlay tui-rl's.

The TensorBoard and W&B copies inside a tui-rl run folder are that run's own, so run folders are
not searched. A file is read again only when it changed. No torch import: the app's Runs screen and
``tui-rl runs`` read them; reading needs the tensorboard or wandb package, and a run whose package
is missing is listed with that said.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tui_rl.config.metrics import EPISODE_RETURN
from tui_rl.engine.runs.folder import RunHistory, RunSummary, is_run_dir, read_metrics
from tui_rl.engine.terminal_text import printable

EXTERNAL = "external"
TENSORBOARD, WANDB = "tensorboard", "wandb"
TB_PREFIX = "events.out.tfevents."
#: how deep under the runs folder event folders are looked for (CleanRL: runs/<name>/)
MAX_DEPTH = 4
#: the series taken as a run's episode return, first found first: tui-rl's, TorchRL's examples',
#: CleanRL's, Stable-Baselines3's
RETURN_TAGS = (EPISODE_RETURN.name, "train/reward", "charts/episodic_return", "rollout/ep_rew_mean",
               "episode_reward", "eval/reward", "eval/mean_reward")

Series = dict[str, list[tuple[int, float]]]
_cache: dict[Path, tuple[tuple, Series]] = {}
_cache_lock = threading.Lock()


def find_external_runs(runs_dir: Path) -> list[tuple[Path, str]]:
    """``(folder, kind)`` of each TensorBoard event folder and W&B offline run under ``runs_dir``."""
    found = []
    root = Path(runs_dir)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_DEPTH
                         and not is_run_dir(here / d))
        if any(name.startswith(TB_PREFIX) for name in files):
            found.append((here, TENSORBOARD))
        elif any(name.startswith("run-") and name.endswith(".wandb") for name in files):
            found.append((here, WANDB))
    return found


def external_summaries(runs_dir: Path) -> list[RunSummary]:
    """A RunSummary of each external run, newest first: its name is its path under ``runs_dir``,
    its frames the last step logged, its best the best episode return (None without one)."""
    summaries = []
    for folder, kind in find_external_runs(runs_dir):
        name = folder.relative_to(runs_dir).as_posix()
        summary = RunSummary(name=name, path=folder, preset=kind, status=EXTERNAL, algorithm=kind,
                             created=latest_mtime(folder), updated=latest_mtime(folder))
        try:
            series = read_external(folder, kind)
        except Exception as exc:  # a missing package or a damaged file: said, the others still listed
            summary.reason = f"cannot read it: {type(exc).__name__}: {exc}"
        else:
            summary.frames = max((points[-1][0] for points in series.values() if points), default=0)
            returns = return_series(series)
            summary.best_eval = max((value for _, value in returns), default=None)
            summary.last_eval = returns[-1][1] if returns else None
        summaries.append(summary)
    return sorted(summaries, key=lambda s: s.created, reverse=True)


def latest_mtime(folder: Path) -> float:
    return max((path.stat().st_mtime for path in folder.iterdir() if path.is_file()), default=0.0)


def read_external(folder: Path, kind: str) -> Series:
    """Every scalar series of an external run as ``[(step, value)]``, re-read only when its files changed."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and (
        p.name.startswith(TB_PREFIX) if kind == TENSORBOARD else p.suffix == ".wandb"))
    signature = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    with _cache_lock:
        cached = _cache.get(folder)
    if cached is not None and cached[0] == signature:
        return cached[1]
    series = read_tensorboard(folder) if kind == TENSORBOARD else read_wandb(files)
    series = {printable(name): points for name, points in series.items()}  # names go to terminals
    with _cache_lock:
        _cache[folder] = (signature, series)
    return series


def read_tensorboard(folder: Path) -> Series:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})  # every point
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def read_wandb(files: list[Path]) -> Series:
    from tui_rl.engine.runs.wandb_offline import read_history

    series: Series = {}
    for path in files:
        for name, points in read_history(path).items():
            series.setdefault(name, []).extend(points)
    return series


def return_series(series: Series) -> list[tuple[int, float]]:
    """The run's episode return: the first of :data:`RETURN_TAGS` it has, else its first series
    named for a return or a reward."""
    for tag in RETURN_TAGS:
        if series.get(tag):
            return series[tag]
    for tag in sorted(series):
        if ("return" in tag or "reward" in tag) and series[tag]:
            return series[tag]
    return []


def episode_returns(run_dir: Path) -> list[tuple[int, float]]:
    """The episode-return series of a tui-rl run folder or of an external run, for overlays."""
    run_dir = Path(run_dir)
    if is_run_dir(run_dir):
        return read_metrics(run_dir).get(EPISODE_RETURN.name, [])
    kind = TENSORBOARD if any(p.name.startswith(TB_PREFIX) for p in run_dir.iterdir()) else WANDB
    return return_series(read_external(run_dir, kind))


def external_history(name: str, runs_dir: Path) -> RunHistory | None:
    """The external run called ``name`` (its path under ``runs_dir``) with its series, or None."""
    for summary in external_summaries(runs_dir):
        if summary.name == name:
            return RunHistory(summary.path, summary, read_external(summary.path, summary.preset))
    return None
