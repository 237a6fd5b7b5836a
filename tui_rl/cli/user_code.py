"""Saying, before an env is built, which of the user's own code building it imports.

A preset's ``env.id`` can name a Python file (``myenv.py:MyEnv``): building the env runs that file,
as ``python myenv.py`` would. Only the commands that build the env (train, resume, branch, eval,
export) import it, and they say so first; listing, showing and diffing runs never do.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tui_rl.config import RunConfig
from tui_rl.engine.envs.user_envs import user_code
from tui_rl.engine.runs.folder import read_config
from tui_rl.engine.terminal_text import printable


def announce(config: RunConfig) -> None:
    for source in user_code(config.env.id, config.env.imports):
        print(f"tui-rl: the env runs your code: importing {printable(source)}", file=sys.stderr)


def announce_run(run_dir: Path) -> None:
    announce(read_config(run_dir))
