"""Messages screens post to the app: the app alone decides which run the Train screen shows.

Screens never write the app's attributes; they say what the user asked for, and the app (which
owns the current run, the runs folder and the config being edited) acts on it.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from tui_rl.config import RunConfig


class StartRun(Message):
    """Start a new run of ``config``."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.config = config


class OpenRun(Message):
    """Show the run folder ``run_dir`` in Train: live if its trainer is up, else its record."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class ContinueRun(Message):
    """Start a trainer that goes on with the stopped or crashed run ``run_dir`` from its last
    checkpoint."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class RunShown(Message):
    """The Train screen now shows the run at ``run_dir``: it becomes the app's current run."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
