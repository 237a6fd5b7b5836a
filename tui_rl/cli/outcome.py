"""How a command ends: its exit codes, and the error for bad arguments."""

import os

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: a run stopped by Ctrl-C before its trainer could stop it cleanly (128 + SIGINT)
INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments: exit 2 with this message."""


def quiet_torchrl() -> None:
    """torchrl's INFO lines would break the progress bar and the output; it reads this on import."""
    os.environ.setdefault("RL_LOGGING_LEVEL", "WARNING")
