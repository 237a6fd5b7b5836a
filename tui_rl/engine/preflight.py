"""PLACEHOLDER (trainui worktree only; the config helper's version replaces it at merge).

``check_buildable(config)`` raises ConfigError when the run cannot be built: here, only the env and
its transforms are built once, which is what the app's tests need.
"""

from __future__ import annotations

from tui_rl.config import RunConfig


def check_buildable(config: RunConfig) -> None:
    from tui_rl.engine.envs import make_env

    make_env(config, num_envs=1).close()
