"""The ``tui-rl`` command.

    tui-rl [PRESET|FILE|RUN]          open the app (on a preset, a TOML file or a run folder)
    tui-rl train PRESET|FILE [...]    train headless with a progress bar
    tui-rl train --resume RUN         go on from a run's last checkpoint
    tui-rl presets [show NAME | validate FILE]
    tui-rl runs [--json] / tui-rl runs show RUN [--json]
    tui-rl attach RUN                 open the app on a run
    tui-rl eval RUN --episodes N      evaluate a run's policy

Exit codes: 0 done; 1 the run failed (the reason and the run folder are printed); 2 bad config
or arguments (the message names the field). Torch is imported only by commands that train or
evaluate, so ``--help``, ``presets`` and ``runs`` answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

from tui_rl.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    edit,
    list_presets,
    load_preset,
)
from tui_rl.config.algorithms import action_kind_mismatch
from tui_rl.config.edit import parse_overrides
from tui_rl.config.presets import resolve_preset
from tui_rl.engine.runfolder import (
    RunFolderError,
    RunSummary,
    create_run,
    is_run_dir,
    list_runs,
    read_config,
    read_history,
    read_summary,
    resolve_run,
    save_config,
)
from tui_rl.engine.protocol import FINAL_STATES

SUBCOMMANDS = ("train", "presets", "runs", "attach", "eval")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments: exit 2 with this message."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
            args = command_parser().parse_args(argv)
            return args.handler(args)
        return open_app(app_parser().parse_args(argv))
    except (ConfigError, RunFolderError, UsageError) as exc:
        print(f"tui-rl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `tui-rl runs show RUN --json | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_FAILED


# ---- parsers ------------------------------------------------------------------------------------


def runs_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where run folders live (default: ./runs)"
    )


def app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tui-rl", description="Open the tui-rl app.")
    parser.add_argument("target", nargs="?", help="a preset name, a preset TOML file, or a run")
    runs_dir_option(parser)
    return parser


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-rl",
        description="A terminal workbench for reinforcement learning on TorchRL. "
        "`tui-rl [PRESET|FILE|RUN]` opens the app.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train headless with a progress bar")
    train.add_argument("target", nargs="?", help="a preset name or a preset TOML file")
    train.add_argument("--resume", metavar="RUN", help="go on from this run's last checkpoint")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config field, such as optim.lr=3e-4 (repeatable)",
    )
    train.add_argument("--frames", type=int, help="frame budget (collector.total_frames)")
    train.add_argument("--seed", type=int, help="seed (env.seed)")
    train.add_argument("--name", help="run folder name (default: preset and time)")
    runs_dir_option(train)
    train.set_defaults(handler=cmd_train)

    presets = sub.add_parser("presets", help="list, show or validate presets")
    presets_sub = presets.add_subparsers(dest="action", metavar="ACTION")
    show = presets_sub.add_parser("show", help="print a preset's TOML")
    show.add_argument("name")
    validate = presets_sub.add_parser("validate", help="check a preset file (or a shipped preset)")
    validate.add_argument("file", metavar="FILE|NAME")
    presets.set_defaults(handler=cmd_presets)

    runs = sub.add_parser("runs", help="list runs, or show one with its metric series")
    runs_sub = runs.add_subparsers(dest="action", metavar="ACTION")
    runs_show = runs_sub.add_parser("show", help="one run with its metric series")
    runs_show.add_argument("run")
    runs_show.add_argument("--json", action="store_true", help="machine-readable output")
    runs_dir_option(runs_show)
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    runs_dir_option(runs)
    runs.set_defaults(handler=cmd_runs)

    attach = sub.add_parser("attach", help="open the app on a run (live or finished)")
    attach.add_argument("run")
    runs_dir_option(attach)
    attach.set_defaults(handler=cmd_attach)

    evaluate = sub.add_parser("eval", help="evaluate a run's policy from its last checkpoint")
    evaluate.add_argument("run")
    evaluate.add_argument("--episodes", type=int, default=10)
    evaluate.add_argument("--record", action="store_true", help="record episode 1 as a video (MP4, or a GIF without FFmpeg) in the run folder")
    runs_dir_option(evaluate)
    evaluate.set_defaults(handler=cmd_eval)
    return parser


# ---- the app ------------------------------------------------------------------------------------


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


def launch_app(*, preset: str | None = None, run_dir: Path | None = None, runs_dir: Path) -> int:
    try:
        from tui_rl.tui.app import run_app
    except ImportError as exc:
        print(f"tui-rl: the app is not available ({exc}); `tui-rl train PRESET` trains headless", file=sys.stderr)
        return EXIT_FAILED
    return run_app(preset=preset, run_dir=run_dir, runs_dir=runs_dir) or EXIT_OK


# ---- presets ------------------------------------------------------------------------------------


def cmd_presets(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    if args.action == "show":
        sys.stdout.write(resolve_preset(args.name).read_text())  # verbatim: no wrapping, no markup
        return EXIT_OK
    console = Console()
    if args.action == "validate":
        config = load_preset(args.file)
        check_action_space(config)
        print(f"{args.file}: valid ({config.env.id}, {config.algorithm.name})")
        return EXIT_OK
    table = Table("name", "env", "algorithm", "description", box=None, header_style="bold")
    for info in list_presets():
        table.add_row(info.name, info.env_id, info.algorithm, info.description)
    console.print(table)
    return EXIT_OK


def check_action_space(config: RunConfig) -> None:
    """The algorithm fits the env's action space (asked of gymnasium, without loading torch)."""
    import gymnasium

    try:
        env = gymnasium.make(config.env.id, **config.env.kwargs)
    except Exception as exc:
        raise ConfigError(f"env.id: cannot make {config.env.id!r}: {exc}") from None
    kind = "discrete" if isinstance(env.action_space, gymnasium.spaces.Discrete) else "continuous"
    env.close()
    mismatch = action_kind_mismatch(config.algorithm.name, config.env.id, kind)
    if mismatch:
        raise ConfigError(mismatch)


# ---- runs ---------------------------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    if args.action == "show":
        history = read_history(resolve_run(args.run, args.runs_dir))
        if args.json:
            data = history.summary.to_json()
            data["series"] = {name: [list(point) for point in series] for name, series in history.metrics.items()}
            print(json.dumps(data, indent=2))
        else:
            print_run(history)
        return EXIT_OK
    summaries = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps([s.to_json() for s in summaries], indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    if not summaries:
        print(f"no runs in {args.runs_dir}")
        return EXIT_OK
    table = Table(box=None, header_style="bold")
    # Whole names, never cut: they are what `attach`, `runs show` and `--resume` take.
    table.add_column("name", no_wrap=True, min_width=max(len(s.name) for s in summaries))
    table.add_column("preset", overflow="fold")
    for column in ("status", "frames"):
        table.add_column(column, no_wrap=True)
    for column in ("best eval", "last eval"):
        table.add_column(column, justify="right")
    for s in summaries:
        table.add_row(
            s.name, s.preset, s.status, f"{s.frames:,}/{s.total_frames:,}", number(s.best_eval), number(s.last_eval)
        )
    Console().print(table)
    return EXIT_OK


def print_run(history: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    print_summary(console, history.summary)
    table = Table("metric", "points", "first", "last", "min", "max", box=None, header_style="bold")
    for name, series in history.metrics.items():
        if series:
            values = [v for _, v in series]
            table.add_row(
                name, str(len(series)), f"{series[0][1]:.4g} @ {series[0][0]:,}",
                f"{series[-1][1]:.4g} @ {series[-1][0]:,}", f"{min(values):.4g}", f"{max(values):.4g}",
            )
    console.print(table)


def print_summary(console: Any, s: RunSummary) -> None:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    rows = [
        ("run", f"{s.name}  ({s.path})"),
        ("preset", s.preset or "-"),
        ("env / algorithm", f"{s.env_id} / {s.algorithm}"),
        ("status", s.status + (f": {s.reason}" if s.reason else "")),
        ("frames", f"{s.frames:,} of {s.total_frames:,}"),
        ("episodes", f"{s.episodes:,}"),
        ("training time", f"{s.train_seconds:.1f} s"),
        ("eval return", f"best {number(s.best_eval)}, last {number(s.last_eval)}"),
    ]
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", value.replace("[", r"\["))
    console.print(table)


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# ---- eval ---------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from tui_rl.engine.evaluate import evaluate_run  # bad episodes / no checkpoint: a ConfigError

    report = evaluate_run(resolve_run(args.run, args.runs_dir), args.episodes, args.record)
    print(report.summary())
    return EXIT_OK


# ---- train --------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    if args.frames is not None and args.frames < 1:
        raise UsageError("--frames: must be a positive number of frames")
    if args.resume:
        if args.target:
            raise UsageError("give either a preset to start a run or --resume RUN, not both")
        run_dir, resume = prepare_resume(args), True
    else:
        if not args.target:
            raise UsageError("train: name a preset or a preset file (see `tui-rl presets`), or --resume RUN")
        config = apply_overrides(load_preset(args.target), training_overrides(args))
        run_dir = create_run(config, name=args.name, runs_dir=args.runs_dir, preset=args.target)
        resume = False
    return train_headless(run_dir, resume=resume, fresh=not resume)


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
    summary = read_summary(run_dir)
    if summary.status not in FINAL_STATES:
        raise UsageError(
            f"run {summary.name} is {summary.status} (trainer pid {summary.pid}); "
            f"watch it with `tui-rl attach {summary.name}`"
        )
    config = read_config(run_dir)
    if args.overrides:  # only live fields: the networks stay as saved
        config = edit(config, parse_overrides(args.overrides), live_only=True, source="--set")
    if args.frames is not None:
        config = apply_overrides(config, [f"collector.total_frames={args.frames}"])
    save_config(run_dir, config)
    return run_dir


def train_headless(run_dir: Path, *, resume: bool, fresh: bool) -> int:
    """Train in this process, behind the run's control socket, with a progress bar."""
    from rich.console import Console

    from tui_rl.engine.stop_signals import StopSignals

    console = Console(stderr=True)

    def quiet_on_hangup(signum: int) -> None:
        if signum == signal.SIGHUP:
            console.quiet = True  # the terminal is gone: writing to it would raise

    stop_reasons = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)",
                    signal.SIGHUP: "the terminal closed"}
    stop_signals = StopSignals(stop_reasons, on_signal=quiet_on_hangup)  # before torch loads

    from tui_rl.engine.server import serve_run

    os.environ.setdefault("RL_LOGGING_LEVEL", "WARNING")  # torchrl's INFO lines would break the bar
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
                      f"`tui-rl train --resume {run_dir.name}`", markup=False)
        return 130
    trainer = holder.get("trainer")
    if trainer is not None and trainer.config_error and fresh and trainer.frames == 0:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing was trained: leave no empty run behind
        raise ConfigError(trainer.reason)
    print_summary(console, read_summary(run_dir))
    if state == "stopped":
        where = "" if run_dir.resolve().parent == Path("runs").resolve() else f" --runs-dir {run_dir.parent}"
        console.print(f"go on with `tui-rl train --resume {run_dir.name}{where}`",
                      markup=False, highlight=False, soft_wrap=True)
    if state == "failed":
        console.print(f"run failed: {read_summary(run_dir).reason}\nrun folder: {run_dir}", markup=False)
        return EXIT_FAILED
    return EXIT_OK


class TrainingProgress:
    """The headless progress bar: frames, frames/s, last episode return, last evaluation return;
    status changes, hyperparameter changes, checkpoints and warnings print above it."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} frames"),
            TextColumn("{task.fields[fps]:>7} fps"),
            TextColumn("return {task.fields[ret]:>7}"),
            TextColumn("eval {task.fields[eval]:>7}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = None

    def __enter__(self) -> TrainingProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.stop()

    def warn(self, message: Warning | str, category: type, *location: Any, **kwargs: Any) -> None:
        """A Python warning as one line above the bar, not a multi-line dump through it."""
        text = " ".join(str(message).split())
        self.progress.console.print(f"warning: {text}", markup=False, highlight=False)

    def start(self, total_frames: int) -> None:
        self.task = self.progress.add_task("starting", total=total_frames, fps="-", ret="-", eval="-")

    def update(self, event: Any) -> None:
        from tui_rl.engine import protocol as p

        if self.task is None:
            return
        fields: dict[str, Any] = {"completed": event.frames}
        if isinstance(event, p.Metrics):
            if "fps" in event.values:
                fields["fps"] = f"{event.values['fps']:,.0f}"
            if "episode_return" in event.values:
                fields["ret"] = f"{event.values['episode_return']:.1f}"
        elif isinstance(event, p.Evaluated):
            fields["eval"] = f"{event.mean_return:.1f}"
        elif isinstance(event, p.StatusChanged):
            fields["description"] = event.state
            fields["total"] = event.total_frames or None
        elif isinstance(event, (p.Log, p.HparamsChanged, p.HparamsRejected, p.Checkpointed)):
            self.progress.console.print(f"[{event.frames:,}] {describe(event)}", markup=False, highlight=False)
        self.progress.update(self.task, **{k: v for k, v in fields.items() if v is not None})


def describe(event: Any) -> str:
    from tui_rl.engine import protocol as p

    if isinstance(event, p.Log):
        return f"{event.level}: {event.message}" if event.level != "info" else event.message
    if isinstance(event, p.HparamsChanged):
        return "hyperparameters: " + ", ".join(f"{k} = {v}" for k, v in event.changes.items())
    if isinstance(event, p.HparamsRejected):
        return f"hyperparameters refused: {event.reason}"
    return f"checkpoint: {event.path}"


if __name__ == "__main__":
    sys.exit(main())
