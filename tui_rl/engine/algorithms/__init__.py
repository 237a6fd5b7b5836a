"""The algorithms, and :func:`build_algorithm` which picks one from the config."""

from __future__ import annotations

import torch
from torchrl.envs import EnvBase

from tui_rl.config.models import ALGORITHM_ACTION_KINDS, RunConfig
from tui_rl.config.presets import ConfigError
from tui_rl.engine.algorithms.a2c import A2C
from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.algorithms.ddpg import DDPG
from tui_rl.engine.algorithms.dqn import DQN
from tui_rl.engine.algorithms.ppo import PPO
from tui_rl.engine.algorithms.sac import SAC
from tui_rl.engine.envs import action_kind

ALGORITHM_CLASSES: dict[str, type[Algorithm]] = {cls.name: cls for cls in (DQN, DDPG, SAC, PPO, A2C)}


def build_algorithm(config: RunConfig, env: EnvBase, device: torch.device | str = "cpu") -> Algorithm:
    """The configured algorithm for ``env``; ConfigError when it cannot act in the env's action space."""
    name = config.algorithm.name
    kind = action_kind(env)
    if kind not in ALGORITHM_CLASSES[name].action_kinds:
        fitting = [algo for algo, kinds in ALGORITHM_ACTION_KINDS.items() if kind in kinds]
        raise ConfigError(
            f"algorithm.name: {name} needs a {' or '.join(ALGORITHM_ACTION_KINDS[name])} action space; "
            f"{config.env.id} has a {kind} one; choose one of {', '.join(fitting)}"
        )
    return ALGORITHM_CLASSES[name](config, env, torch.device(device))


__all__ = ["ALGORITHM_CLASSES", "Algorithm", "build_algorithm"]
