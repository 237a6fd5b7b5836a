"""``tui-rl train PRESET --seeds 0 1 2 3 4``: one setup trained once per seed, each an ordinary run
folder (``<name>-seed<N>``), one after the other or side by side as the machine allows
(``--parallel``); then the group's final and best returns with their 95 % intervals."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from tui_rl.cli.outcome import EXIT_FAILED, EXIT_OK, UsageError
from tui_rl.config import RunConfig
from tui_rl.engine.runfolder import read_summary
from tui_rl.engine.seed_runs import create_seed_runs, default_parallel, train_side_by_side


def train_seeds(args: argparse.Namespace, config: RunConfig, train_headless: Callable[..., int]) -> int:
    """``train_headless`` trains one run in this process (``cli.train``'s, passed in: no import circle)."""
    if len(set(args.seeds)) != len(args.seeds):
        raise UsageError("--seeds: each seed once")
    run_dirs = create_seed_runs(config, args.seeds, args.runs_dir, args.name, args.target)
    parallel = args.parallel or default_parallel(len(run_dirs))
    if parallel == 1:
        codes = [train_headless(run_dir, resume=False, fresh=True) for run_dir in run_dirs]
    else:
        codes = train_side_by_side(run_dirs, parallel, on_start=announce, on_end=report)
    print_group(run_dirs)
    return EXIT_OK if all(code == EXIT_OK for code in codes) else EXIT_FAILED


def announce(run_dir: Path) -> None:
    print(f"training {run_dir.name} (trainer log: {run_dir / 'trainer.log'})", flush=True)


def report(run_dir: Path, code: int) -> None:
    summary = read_summary(run_dir)
    print(f"{run_dir.name}: {summary.status} at {summary.frames:,} frames"
          + (f": {summary.reason}" if summary.reason else ""), flush=True)


def print_group(run_dirs: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    from tui_rl.engine.run_stats import score_summary

    summaries = [read_summary(run_dir) for run_dir in run_dirs]
    table = Table("return", "mean [95% CI]", "IQM [95% CI]", "runs", box=None, header_style="bold",
                  title=f"seed group of {len(summaries)} runs")
    for label, values in (("final eval", [s.last_eval for s in summaries]), ("best eval", [s.best_eval for s in summaries])):
        values = [v for v in values if v is not None]
        if not values:
            continue
        s = score_summary(values)
        table.add_row(label, f"{s.mean:.1f} [{s.mean_interval[0]:.1f}, {s.mean_interval[1]:.1f}]",
                      f"{s.iqm:.1f} [{s.iqm_interval[0]:.1f}, {s.iqm_interval[1]:.1f}]", str(len(values)))
    Console().print(table)
