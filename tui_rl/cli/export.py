"""``tui-rl export RUN``: write a run's deterministic policy as a file that loads without tui-rl."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui_rl.cli.options import RUN_HELP, runs_dir_option
from tui_rl.cli.outcome import EXIT_FAILED, EXIT_OK, quiet_torchrl
from tui_rl.cli.user_code import announce_run
from tui_rl.config import ConfigError
from tui_rl.engine.file_formats import EXPORT_FORMATS
from tui_rl.engine.runs.folder import resolve_run


def cmd_export(args: argparse.Namespace) -> int:
    quiet_torchrl()
    run_dir = resolve_run(args.run, args.runs_dir)
    announce_run(run_dir)
    from tui_rl.engine.inspect.export import export_policy
    from tui_rl.engine.policy.weights import WeightsError

    try:
        exported = export_policy(run_dir, args.export_format, args.output, args.checkpoint, args.force)
    except WeightsError as exc:  # --checkpoint N that is not there, or a checkpoint that does not fit
        raise ConfigError(str(exc)) from None
    except ConfigError:
        raise
    except Exception as exc:  # a policy TorchScript or ONNX cannot trace: the reason, not a traceback
        print(f"tui-rl: cannot export {run_dir.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(exported.summary())
    return EXIT_OK


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="write a run's deterministic policy to a file usable without tui-rl")
    export.add_argument("run", metavar="RUN", help=RUN_HELP)
    export.add_argument(
        "--checkpoint", type=int, metavar="N", help="the checkpoint at N frames (default: the newest)"
    )
    export.add_argument(
        "--format", dest="export_format", choices=EXPORT_FORMATS, default="torchscript",
        help="torchscript (torch.jit.load), onnx (onnxruntime) or state-dict (torch.load); "
        "default: torchscript",
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE",
        help="where to write it (default: RUN-FRAMES.pt, .onnx or .state_dict.pt here); "
        "a regular file outside any run folder",
    )
    export.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    runs_dir_option(export)
    export.set_defaults(handler=cmd_export)
