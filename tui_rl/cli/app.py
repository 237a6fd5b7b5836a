"""Opening the app: on a preset, a TOML file or a run (``tui-rl [TARGET]``, ``tui-rl attach RUN``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tui_rl.cli.outcome import EXIT_FAILED, EXIT_OK, UsageError
from tui_rl.config.presets import resolve_preset
from tui_rl.engine.runs.folder import is_run_dir, list_runs, read_summary, resolve_run


def open_app(args: argparse.Namespace) -> int:
    target = args.target
    if target is not None and is_run_target(target, args.runs_dir):
        return launch_app(run_dir=resolve_run(target, args.runs_dir), runs_dir=args.runs_dir)
    if target is not None:
        resolve_preset(target)  # an unknown name fails here with the list of presets
    return launch_app(preset=target, runs_dir=args.runs_dir)


def is_run_target(target: str, runs_dir: Path) -> bool:
    return is_run_dir(Path(target)) or is_run_dir(Path(runs_dir) / target)


def cmd_attach(args: argparse.Namespace) -> int:
    return launch_app(run_dir=resolve_run(args.run, args.runs_dir), runs_dir=args.runs_dir)


def has_terminal() -> bool:
    # Under `tui-rl serve`, textual-serve names its web driver here: the browser page is the terminal.
    return bool(os.environ.get("TEXTUAL_DRIVER")) or (sys.stdin.isatty() and sys.stdout.isatty())


def launch_app(*, preset: str | None = None, run_dir: Path | None = None, runs_dir: Path) -> int:
    list_runs(runs_dir)  # a --runs-dir that cannot be listed is refused here, not in the Runs pane
    if run_dir is not None:
        read_summary(run_dir)  # so is a run whose run.json is damaged
    if not has_terminal():  # without one, the app would write escape codes into a pipe forever
        raise UsageError(
            "the app needs a terminal (stdin and stdout are not one); without one, use "
            "`tui-rl train PRESET`, `tui-rl runs` or `tui-rl eval RUN`"
        )
    try:
        from tui_rl.tui.app import run_app
    except ImportError as exc:
        print(f"tui-rl: the app is not available ({exc}); `tui-rl train PRESET` trains headless", file=sys.stderr)
        return EXIT_FAILED
    return run_app(preset=preset, run_dir=run_dir, runs_dir=runs_dir) or EXIT_OK
