"""The algorithms, and :func:`build_algorithm` which picks one from the config."""

from __future__ import annotations

from pathlib import Path

import torch
from torchrl.envs import EnvBase

from tui_rl.config.algorithms import action_kind_mismatch
from tui_rl.config.models import RunConfig
from tui_rl.config.errors import ConfigError
from tui_rl.engine.algorithms.a2c import A2C
from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.algorithms.ddpg import DDPG
from tui_rl.engine.algorithms.dqn import DQN
from tui_rl.engine.algorithms.ppo import PPO
from tui_rl.engine.algorithms.sac import SAC
from tui_rl.engine.algorithms.sac_discrete import DiscreteSAC
from tui_rl.engine.algorithms.td3 import TD3
from tui_rl.engine.envs.making import action_kind

ALGORITHM_CLASSES: dict[str, type[Algorithm]] = {cls.name: cls for cls in (DQN, DDPG, TD3, SAC, DiscreteSAC, PPO, A2C)}


def build_algorithm(
    config: RunConfig, env: EnvBase, device: torch.device | str = "cpu", scratch_dir: Path | None = None
) -> Algorithm:
    """The configured algorithm for ``env``; ConfigError when it cannot act in the env's action space.
    ``scratch_dir`` holds a memory-mapped replay storage (a temporary folder without one)."""
    name = config.algorithm.name
    mismatch = action_kind_mismatch(name, config.env.id, action_kind(env))
    if mismatch:
        raise ConfigError(mismatch)
    return ALGORITHM_CLASSES[name](config, env, torch.device(device), scratch_dir)


__all__ = ["ALGORITHM_CLASSES", "Algorithm", "build_algorithm"]
