"""The command line: the app's arguments, and one subparser per command (each argument with help)."""

from __future__ import annotations

import argparse

from tui_rl.cli.app import cmd_attach
from tui_rl.cli.branch import cmd_branch
from tui_rl.cli.evaluate import cmd_eval
from tui_rl.cli.export import add_export_parser
from tui_rl.cli.options import RUN_HELP, runs_dir_option, set_option
from tui_rl.cli.presets import cmd_presets
from tui_rl.cli.serve import add_serve_parser
from tui_rl.cli.runs import cmd_runs
from tui_rl.cli.search import add_search_parser
from tui_rl.cli.train import cmd_train
from tui_rl.engine.extras import install_line
from tui_rl.engine.file_formats import VIDEO_FORMATS

SUBCOMMANDS = ("train", "presets", "runs", "attach", "eval", "export", "serve", "search", "branch")


def version_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=version_line(),
                        help="print the versions of tui-rl, TorchRL and torch, and exit")


def version_line() -> str:
    """The installed versions, read from package metadata: nothing is imported for them."""
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"tui-rl {of('tui-rl')} (torchrl {of('torchrl')}, torch {of('torch')})"


def app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tui-rl", description="Open the tui-rl app.")
    parser.add_argument("target", nargs="?", help="a preset name, a preset TOML file, or a run")
    runs_dir_option(parser)
    version_option(parser)
    return parser


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-rl",
        description="A terminal workbench for reinforcement learning on TorchRL. "
        "`tui-rl [PRESET|FILE|RUN]` opens the app.",
    )
    version_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train headless with a progress bar")
    train.add_argument("target", nargs="?", help="a preset name or a preset TOML file")
    train.add_argument("--resume", metavar="RUN", help="go on from this run's last checkpoint")
    train.add_argument(
        "--from-scratch", action="store_true",
        help="with --resume: train the run again from frame 0, dropping its checkpoints and the "
        "metrics logged after frame 0 (for a run whose checkpoints cannot be loaded)",
    )
    set_option(train, "override a config field, such as optim.lr=3e-4")
    train.add_argument("--frames", type=int, help="frame budget (collector.total_frames)")
    train.add_argument("--seed", type=int, help="seed (env.seed), 0 to 2^32-1")
    train.add_argument("--name", help="run folder name (default: preset and time)")
    train.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                       help="train the setup once per seed, as a seed group (runs NAME-seedN)")
    train.add_argument("--parallel", type=int, metavar="N",
                       help="with --seeds: runs trained side by side (default: half the cores, at least 1)")
    runs_dir_option(train)
    train.set_defaults(handler=cmd_train)

    branch = sub.add_parser("branch", help="a new run from a run's checkpoint with edited fields")
    branch.add_argument("run", metavar="RUN", help=RUN_HELP)
    branch.add_argument("--checkpoint", type=int, metavar="N", help="the checkpoint at N frames (default: the newest)")
    set_option(branch, "change any config field for the branch, such as optim.lr=3e-4")
    branch.add_argument("--name", help="the branch's run name (default: RUN-b<frames>)")
    branch.add_argument(
        "--fresh-networks", action="store_true",
        help="when the edits do not fit the checkpoint's networks: start new ones at its frame count",
    )
    runs_dir_option(branch)
    branch.set_defaults(handler=cmd_branch)

    presets = sub.add_parser("presets", help="list, show or validate presets")
    presets_sub = presets.add_subparsers(dest="action", metavar="ACTION")
    show = presets_sub.add_parser("show", help="print a preset's TOML")
    show.add_argument("name", help="a shipped preset's name (see `tui-rl presets`)")
    validate = presets_sub.add_parser(
        "validate", help="check a preset file (or a shipped preset) as `train` would, short of training"
    )
    validate.add_argument("file", metavar="FILE|NAME", help="a preset TOML file or a shipped preset's name")
    presets.set_defaults(handler=cmd_presets)

    runs = sub.add_parser("runs", help="list runs, or show one with its metric series")
    runs_sub = runs.add_subparsers(dest="action", metavar="ACTION")
    runs_show = runs_sub.add_parser("show", help="one run with its metric series")
    runs_show.add_argument("run", metavar="RUN", help=RUN_HELP)
    runs_show.add_argument("--json", action="store_true", help="machine-readable output")
    runs_dir_option(runs_show)
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    runs_dir_option(runs)
    runs.set_defaults(handler=cmd_runs)

    attach = sub.add_parser("attach", help="open the app on a run (live or finished)")
    attach.add_argument("run", metavar="RUN", help=RUN_HELP)
    runs_dir_option(attach)
    attach.set_defaults(handler=cmd_attach)

    evaluate = sub.add_parser("eval", help="evaluate a run's policy from its last checkpoint")
    evaluate.add_argument("run", metavar="RUN", help=RUN_HELP)
    evaluate.add_argument(
        "--episodes", type=int, default=10, metavar="N", help="episodes to play (default: 10)"
    )
    evaluate.add_argument(
        "--record", action="store_true",
        help="record episode 1 as a video in the run folder (metrics/videos/)",
    )
    evaluate.add_argument(
        "--format", dest="video_format", choices=VIDEO_FORMATS,
        help=f"the video's format with --record (default: mp4; it needs {install_line('video')})",
    )
    runs_dir_option(evaluate)
    evaluate.set_defaults(handler=cmd_eval)

    add_export_parser(sub)
    add_serve_parser(sub)
    add_search_parser(sub)
    return parser
