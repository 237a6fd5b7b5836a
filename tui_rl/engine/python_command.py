"""The command line that starts a tui-rl module in a new Python process: every launcher (trainers,
seed groups, search workers, branches, serve's apps) builds its command here.

``-P`` keeps the current folder off ``sys.path``, so a ``gymnasium.py`` (or any file named like an
installed package) in the folder the user started from is never imported in its place. Not ``-I``:
PYTHONPATH and the user's site packages must still count. Torch-free; multiprocessing's spawned
children inherit the flag.
"""

from __future__ import annotations

import sys


def python_module(module: str, *args: str) -> list[str]:
    """``python -P -m MODULE ARGS...`` with this interpreter."""
    return [sys.executable, "-P", "-m", module, *args]
