"""``tui-rl train PRESET --seeds 0 1 2 3 4``: one setup trained once per seed, each an ordinary run
folder (``<name>-seed<N>``), one after the other or side by side as the machine allows
(``--parallel``); then the group's final and best returns with their 95 % intervals.

Ctrl-C (or SIGTERM, or a closing terminal) stops the whole group: each trainer checkpoints and
stops, no other starts, and ``tui-rl train --resume NAME`` later finishes what is left."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from pathlib import Path

from tui_rl.cli.outcome import EXIT_FAILED, EXIT_OK, INTERRUPTED, UsageError
from tui_rl.config import RunConfig
from tui_rl.engine.protocol import FINAL_STATES
from tui_rl.engine.runs.folder import LOG_FILE, list_runs, read_summary
from tui_rl.engine.run.seed_runs import (
    GROUP_TAG, create_seed_runs, default_parallel, group_line, group_members, mark_not_started, train_side_by_side,
)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def train_seeds(args: argparse.Namespace, config: RunConfig, train_headless: Callable[..., int]) -> int:
    """``train_headless`` trains one run in this process (``cli.train``'s, passed in: no import circle)."""
    if len(set(args.seeds)) != len(args.seeds):
        raise UsageError("--seeds: each seed once")
    run_dirs = create_seed_runs(config, args.seeds, args.runs_dir, args.name, args.target)
    return train_group(args, read_summary(run_dirs[0]).tags[GROUP_TAG], run_dirs, train_headless, resume=False, new=True)


def resume_group(args: argparse.Namespace, stem: str, train_headless: Callable[..., int],
                 prepare_resume: Callable[[argparse.Namespace], Path]) -> int | None:
    """``--resume STEM`` on a seed group: each of its runs that did not finish goes on as
    ``--resume RUN`` would (``cli.train``'s ``prepare_resume``: --frames and live --set apply to
    each); one that never started begins at frame 0. None when ``stem`` names no group."""
    members = group_members(list_runs(args.runs_dir), stem)
    if not members:
        return None
    busy = [run.name for run in members if run.status not in FINAL_STATES]
    if busy:
        raise UsageError(f"seed group {stem}: {', '.join(busy)} still training; "
                         f"stop them first, or watch one with `tui-rl attach {busy[0]}`")
    left = [prepare_resume(argparse.Namespace(**{**vars(args), "resume": str(run.path)}))
            for run in members if run.status != "finished"]
    print(f"seed group {stem}: {len(left)} of {len(members)} runs to finish", flush=True)
    return train_group(args, stem, left, train_headless, resume=not args.from_scratch, new=False)


def train_group(args: argparse.Namespace, stem: str, run_dirs: list[Path], train_headless: Callable[..., int],
                *, resume: bool, new: bool) -> int:
    """Train ``run_dirs`` (of the group ``stem``; from their checkpoints with ``resume``; ``new``
    runs) until each finishes or a stop signal comes."""
    parallel = args.parallel or default_parallel(len(run_dirs))
    codes: dict[Path, int] = {}
    if parallel == 1:
        for run_dir in run_dirs:  # each in this process: its own stop signals end it cleanly
            codes[run_dir] = train_headless(run_dir, resume=resume, fresh=new)
            if read_summary(run_dir).status == "stopped":
                break  # Ctrl-C: the rest wait for --resume
    elif run_dirs:
        stop: list[int] = []
        # trainers lead sessions of their own: a stop signal reaches them only through this process
        before = {signum: signal.signal(signum, lambda signum, frame: stop.append(signum)) for signum in STOP_SIGNALS}
        try:
            codes = train_side_by_side(run_dirs, parallel, on_start=announce, on_end=report,
                                       stopping=lambda: bool(stop), from_checkpoint=resume)
        finally:
            for signum, handler in before.items():
                signal.signal(signum, handler)
    for run_dir in run_dirs:
        if run_dir not in codes:
            mark_not_started(run_dir)
    members = group_members(list_runs(args.runs_dir), stem)
    if any(run.status != "finished" for run in members):
        print(group_line(stem, members), flush=True)
    else:
        print_group([run.path for run in members])
    return EXIT_FAILED if any(code not in (EXIT_OK, INTERRUPTED) for code in codes.values()) else EXIT_OK


def announce(run_dir: Path) -> None:
    print(f"training {run_dir.name} (trainer log: {run_dir / LOG_FILE})", flush=True)


def report(run_dir: Path, code: int) -> None:
    summary = read_summary(run_dir)
    print(f"{run_dir.name}: {summary.status} at {summary.frames:,} frames"
          + (f": {summary.reason}" if summary.reason else ""), flush=True)


def print_group(run_dirs: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    from tui_rl.engine.runs.stats import score_summary

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
