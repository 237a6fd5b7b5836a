"""Starting a seed group: one run folder per seed (``<stem>-seed<N>``), trained one after the other
or side by side as the machine allows. The CLI (``--seeds``) and the app (``S``) both start groups
here. Torch-free: trainers are processes (``channel/launch.py``)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tui_rl.config import ConfigError, RunConfig, edit
from tui_rl.engine.runs import liveness
from tui_rl.engine.channel.launch import launch_trainer
from tui_rl.engine.channel.warm_trainers import discard_spare, warm_up
from tui_rl.engine.runs.record import check_run_name, create_run, default_run_name, record_state
from tui_rl.engine.protocol import FINAL_STATES
from tui_rl.engine.runs.folder import RunSummary

#: the tag naming a run's seed group (its name stem), so the group can be listed and resumed whole
GROUP_TAG = "seed_group"
#: how often side-by-side trainers are looked at (a finished one frees its slot; a stop is passed on)
POLL_S = 0.2


def default_parallel(count: int) -> int:
    """Side by side when there are cores to spare (each trainer takes one, its envs another)."""
    return max(1, min(count, (os.cpu_count() or 1) // 2))


def parse_seeds(text: str) -> list[int]:
    """``"0 1 2"`` or ``"0-4"`` as seeds; ConfigError says what is wrong."""
    seeds: list[int] = []
    for part in text.replace(",", " ").split():
        low, dash, high = part.partition("-")
        try:
            seeds += list(range(int(low), int(high) + 1)) if dash else [int(part)]
        except ValueError:
            raise ConfigError.at("env.seed", f"{part!r} is not a seed or a range such as 0-4") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ConfigError.at("env.seed", "give two or more different seeds, such as 0 1 2 3 4")
    return seeds


def create_seed_runs(config: RunConfig, seeds: Sequence[int], runs_dir: Path, stem: str | None, preset: str) -> list[Path]:
    """One run folder per seed (this process holds each one's lock until a trainer takes it)."""
    stem = stem or default_run_name(config, preset)
    for seed in seeds:
        check_run_name(f"{stem}-seed{seed}")
    configs = [edit(config, {"env.seed": seed}, source="--seeds") for seed in seeds]
    return [create_run(c, name=f"{stem}-seed{c.env.seed}", runs_dir=runs_dir, preset=preset,
                       tags={GROUP_TAG: stem}) for c in configs]


def group_members(runs: Sequence[RunSummary], stem: str) -> list[RunSummary]:
    """The runs of the seed group ``stem``, in name order."""
    return sorted((run for run in runs if run.tags.get(GROUP_TAG) == stem), key=lambda run: run.name)


def unfinished_groups(runs: Sequence[RunSummary]) -> dict[str, list[RunSummary]]:
    """Seed groups among ``runs`` with a run that did not finish (still training, stopped, failed,
    or never started), by stem."""
    stems = {run.tags[GROUP_TAG] for run in runs if isinstance(run.tags.get(GROUP_TAG), str)}
    groups = {stem: group_members(runs, stem) for stem in sorted(stems)}
    return {stem: members for stem, members in groups.items() if any(run.status != "finished" for run in members)}


def mark_not_started(run_dir: Path) -> None:
    """A run the group never got to: stopped at frame 0, saying so, its lock let go."""
    record_state(run_dir, "stopped", "never started: its seed group was stopped first")
    liveness.release(run_dir)


def group_line(stem: str, members: Sequence[RunSummary]) -> str:
    """What became of a group, and how to finish it."""
    counts: dict[str, int] = {}
    for run in members:
        counts[run.status] = counts.get(run.status, 0) + 1
    states = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    line = f"seed group {stem}: {{}} ({states}; {len(members)} runs)"
    if not any(run.status in ("stopped", "failed") for run in members):
        return line.format("training")
    when = "once its runs stop, " if any(run.status not in FINAL_STATES for run in members) else ""
    return line.format("interrupted") + f"; {when}finish it with `tui-rl train --resume {stem}`"


def train_side_by_side(
    run_dirs: Sequence[Path],
    parallel: int,
    on_start: Callable[[Path], None] = lambda run_dir: None,
    on_end: Callable[[Path, int], None] = lambda run_dir, code: None,
    stopping: Callable[[], bool] = lambda: False,
    from_checkpoint: bool = False,
) -> dict[Path, int]:
    """Trainer processes, ``parallel`` at a time; the exit code of each that ran. Once ``stopping``
    says so, no more start and those running are told to checkpoint and stop (SIGTERM), then
    waited for: they run in sessions of their own, so nothing else would end them."""
    waiting = list(run_dirs)
    running: dict[Path, subprocess.Popen] = {}
    codes: dict[Path, int] = {}
    told = False
    # a spare trainer, warm for the first run that waits for a free slot (the app may have one)
    warmed_here = len(waiting) > parallel and warm_up()
    try:
        while running or (waiting and not told):
            while waiting and len(running) < parallel and not stopping():
                run_dir = waiting.pop(0)
                running[run_dir] = launch_trainer(run_dir, from_checkpoint)
                on_start(run_dir)
            if stopping() and not told:
                told = True
                for process in running.values():
                    process.terminate()
            for run_dir, process in list(running.items()):
                if process.poll() is not None:
                    codes[run_dir] = running.pop(run_dir).returncode
                    on_end(run_dir, codes[run_dir])
            time.sleep(POLL_S)
    finally:
        if warmed_here:
            discard_spare()
    return codes
