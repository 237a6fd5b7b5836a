"""How a command ends: its exit codes, and the error for bad arguments."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments: exit 2 with this message."""
