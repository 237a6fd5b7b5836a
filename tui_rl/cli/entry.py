"""``main``: parse the command line, run the command, turn every expected failure into a message
and an exit code (never a traceback)."""

from __future__ import annotations

import io
import os
import sys

from tui_rl.cli.app import open_app
from tui_rl.cli.outcome import EXIT_FAILED, EXIT_USAGE, UsageError
from tui_rl.cli.parsers import SUBCOMMANDS, app_parser, command_parser
from tui_rl.config import ConfigError
from tui_rl.engine.runs.liveness import RunBusy
from tui_rl.engine.runs.folder import RunFolderError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    tolerate_undecodable_names()
    try:
        if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
            args = command_parser().parse_args(argv)
            return args.handler(args)
        return open_app(app_parser().parse_args(argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error it printed (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except (ConfigError, RunFolderError, UsageError) as exc:
        print(f"tui-rl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunBusy as exc:  # another trainer took the run first: nothing of it was changed
        print(f"tui-rl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # `tui-rl runs show RUN --json | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_FAILED


def tolerate_undecodable_names() -> None:
    """A file or run name that is not UTF-8 (kept by Python as surrogates) prints escaped."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
