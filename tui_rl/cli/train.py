"""``tui-rl train``: a new run from a preset, or ``--resume RUN``, trained in this process."""

from __future__ import annotations

import argparse
import shutil
import signal
import warnings
from pathlib import Path
from typing import Any

from tui_rl.cli.outcome import EXIT_FAILED, EXIT_OK, INTERRUPTED, UsageError, quiet_torchrl
from tui_rl.cli.user_code import announce
from tui_rl.cli.progress import TrainingProgress
from tui_rl.cli.runs import print_summary
from tui_rl.config import ConfigError, RunConfig, apply_overrides, edit, load_preset
from tui_rl.config.edit import parse_overrides
from tui_rl.config.models import MAX_TOTAL_FRAMES
from tui_rl.engine.runs import liveness
from tui_rl.engine.protocol import FINAL_STATES
from tui_rl.engine.runs.folder import (
    RunFolderError, is_run_dir, read_config, read_summary, refuse_links, resolve_run, resume_command,
)
from tui_rl.engine.runs.record import check_run_name, create_run, save_config


def cmd_train(args: argparse.Namespace) -> int:
    quiet_torchrl()  # before the preflight check first imports it
    if args.frames is not None and not 1 <= args.frames <= MAX_TOTAL_FRAMES:
        raise UsageError(f"--frames: must be a positive number of frames, at most {MAX_TOTAL_FRAMES:,}")
    if args.from_scratch and not args.resume:
        raise UsageError("--from-scratch goes with --resume RUN")
    if args.seeds and (args.resume or args.seed is not None):
        raise UsageError("--seeds starts new runs, one per seed: not with --resume or --seed")
    if args.parallel is not None and args.parallel < 1:
        raise UsageError(f"--parallel: must be at least 1, not {args.parallel}")
    if args.parallel is not None and not (args.seeds or args.resume):
        raise UsageError("--parallel goes with --seeds (or --resume of a seed group)")
    if args.resume:
        if args.target:
            raise UsageError("give either a preset to start a run or --resume RUN, not both")
        group = resume_seed_group(args)
        if group is not None:
            return group
        if args.parallel is not None:
            raise UsageError("--parallel goes with --seeds (or --resume of a seed group)")
        # --from-scratch: the same folder trained again from frame 0 (its checkpoints are dropped)
        run_dir, resume = prepare_resume(args), not args.from_scratch
    else:
        if not args.target:
            raise UsageError("train: name a preset or a preset file (see `tui-rl presets`), or --resume RUN")
        if args.name is not None:
            check_run_name(args.name)
        config = apply_overrides(load_preset(args.target), training_overrides(args))
        check(config, args.runs_dir)
        if args.seeds:
            from tui_rl.cli.seeds import train_seeds

            return train_seeds(args, config, train_headless)
        run_dir = create_run(config, name=args.name, runs_dir=args.runs_dir, preset=args.target)
        resume = False
    return train_headless(run_dir, resume=resume, fresh=not args.resume)


def resume_seed_group(args: argparse.Namespace) -> int | None:
    """``--resume NAME`` where NAME is a seed group's name rather than a run's; None otherwise."""
    if is_run_dir(Path(args.resume)) or is_run_dir(args.runs_dir / args.resume):
        return None
    from tui_rl.cli.seeds import resume_group

    return resume_group(args, args.resume, train_headless, prepare_resume)


def check(config: RunConfig, runs_dir: Path) -> None:
    """Refuse, before any run folder exists, a config that cannot be built (in ``runs_dir``)."""
    from tui_rl.engine.run.preflight import check_buildable

    announce(config)
    check_buildable(config, runs_dir)


def training_overrides(args: argparse.Namespace) -> list[str]:
    overrides = list(args.overrides)
    if args.frames is not None:
        overrides.append(f"collector.total_frames={args.frames}")
    if args.seed is not None:
        overrides.append(f"env.seed={args.seed}")
    return overrides


def prepare_resume(args: argparse.Namespace) -> Path:
    """The run folder to go on with, its config updated by --frames and live --set values."""
    if args.seed is not None or args.name is not None:
        raise UsageError("--seed and --name cannot change a run that is resumed")
    run_dir = resolve_run(args.resume, args.runs_dir)
    refuse_links(run_dir)  # before config.toml is rewritten
    summary = read_summary(run_dir)
    if summary.status not in FINAL_STATES:
        raise UsageError(
            f"run {summary.name} is {summary.status} (trainer pid {summary.pid}); "
            f"watch it with `tui-rl attach {summary.name}`"
        )
    hold(run_dir)
    try:
        config = read_config(run_dir)
        if args.overrides:  # only live fields: the networks stay as saved
            config = edit(config, parse_overrides(args.overrides), live_only=True, source="--set")
        if args.frames is not None:
            config = apply_overrides(config, [f"collector.total_frames={args.frames}"])
        check(config, run_dir.parent)
        save_config(run_dir, config)
    except BaseException:
        liveness.release(run_dir)
        raise
    return run_dir


def hold(run_dir: Path) -> None:
    """Take the run's lock before anything in it is rewritten: of two resumes started at once, the
    second stops here (RunBusy); a folder this user cannot write in is refused, saying so."""
    try:
        liveness.hold(run_dir)
    except OSError as exc:
        raise RunFolderError(
            f"{run_dir}: cannot go on with the run here, its folder is not writable ({exc.strerror or exc}); "
            "copy the run folder into a runs folder you can write in"
        ) from None


def train_headless(run_dir: Path, *, resume: bool, fresh: bool) -> int:
    """Train in this process, behind the run's control socket, with a progress bar."""
    from rich.console import Console

    from tui_rl.engine.run.stop_signals import StopSignals

    console = Console(stderr=True)

    def quiet_on_hangup(signum: int) -> None:
        if signum == signal.SIGHUP:
            console.quiet = True  # the terminal is gone: writing to it would raise

    stop_reasons = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)",
                    signal.SIGHUP: "the terminal closed"}
    stop_signals = StopSignals(stop_reasons, on_signal=quiet_on_hangup)  # before torch loads

    from tui_rl.engine.run.serve import serve_run

    progress = TrainingProgress(console)
    holder: dict[str, Any] = {}

    def on_trainer(trainer: Any) -> None:
        holder["trainer"] = trainer
        progress.start(trainer.config.collector.total_frames)

    console.print(f"run folder: {run_dir}", markup=False, highlight=False)
    try:
        with progress, warnings.catch_warnings():
            warnings.showwarning = progress.warn
            state = serve_run(run_dir, from_checkpoint=resume, on_event=progress.update,
                              on_trainer=on_trainer, stop_signals=stop_signals)
    except KeyboardInterrupt:
        console.print("interrupted; the run resumes from its last checkpoint with "
                      f"`{resume_command(run_dir.name)}`", markup=False, highlight=False)
        return INTERRUPTED
    trainer = holder.get("trainer")
    if trainer is not None and trainer.config_error and fresh and trainer.counters.frames == 0:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing was trained: leave no empty run behind
        raise ConfigError(trainer.reason)
    print_summary(console, read_summary(run_dir))
    if state == "stopped":
        where = [] if run_dir.resolve().parent == Path("runs").resolve() else ["--runs-dir", str(run_dir.parent)]
        console.print(f"go on with `{resume_command(run_dir.name, *where)}`",
                      markup=False, highlight=False, soft_wrap=True)
    if state == "failed":
        console.print(f"run failed: {read_summary(run_dir).reason}\nrun folder: {run_dir}", markup=False)
        return EXIT_FAILED
    return EXIT_OK
