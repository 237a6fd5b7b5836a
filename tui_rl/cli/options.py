"""Arguments several commands share: the runs folder, a run named on the command line, and ``--set``."""

from __future__ import annotations

import argparse
from pathlib import Path

RUN_HELP = "a run's name (in --runs-dir) or its folder"


def runs_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where run folders live (default: ./runs)"
    )


def set_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--set KEY=VALUE`` (repeatable), read into ``overrides``; ``what`` says what it sets, with an example."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=f"{what} (repeatable)"
    )
