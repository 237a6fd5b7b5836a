"""Starting a seed group: one run folder per seed (``<stem>-seed<N>``), trained one after the other
or side by side as the machine allows. The CLI (``--seeds``) and the app (``S``) both start groups
here. Torch-free: trainers are processes (``launch.py``)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from tui_rl.config import ConfigError, RunConfig, edit
from tui_rl.engine.launch import launch_trainer
from tui_rl.engine.run_record import check_run_name, create_run, default_run_name


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
    return [create_run(c, name=f"{stem}-seed{c.env.seed}", runs_dir=runs_dir, preset=preset) for c in configs]


def train_side_by_side(
    run_dirs: Sequence[Path],
    parallel: int,
    on_start: Callable[[Path], None] = lambda run_dir: None,
    on_end: Callable[[Path, int], None] = lambda run_dir, code: None,
) -> list[int]:
    """Trainer processes, ``parallel`` at a time; their exit codes in order of ``run_dirs``."""
    waiting = list(run_dirs)
    running: list[tuple[Path, subprocess.Popen]] = []
    codes: dict[Path, int] = {}
    while waiting or running:
        while waiting and len(running) < parallel:
            run_dir = waiting.pop(0)
            running.append((run_dir, launch_trainer(run_dir)))
            on_start(run_dir)
        run_dir, process = running.pop(0)
        codes[run_dir] = process.wait()
        on_end(run_dir, codes[run_dir])
    return [codes[run_dir] for run_dir in run_dirs]
