"""The algorithms, and :func:`build_algorithm` which picks one from the config."""

from __future__ import annotations

from pathlib import Path

import torch
from torchrl.envs import EnvBase

from tui_rl.config.algorithms import action_kind_mismatch, agents_mismatch
from tui_rl.config.models import RunConfig
from tui_rl.config.errors import ConfigError
from tui_rl.engine.algorithms.a2c import A2C
from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.algorithms.ddpg import DDPG
from tui_rl.engine.algorithms.dqn import DQN
from tui_rl.engine.algorithms.mappo import IPPO, MAPPO
from tui_rl.engine.algorithms.ppo import PPO
from tui_rl.engine.algorithms.qmix import QMIX, VDN
from tui_rl.engine.algorithms.sac import SAC
from tui_rl.engine.algorithms.sac_discrete import DiscreteSAC
from tui_rl.engine.algorithms.td3 import TD3
from tui_rl.engine.envs.making import action_kind
from tui_rl.engine.envs.multi_agent import group_action_kinds, is_multi_agent_env

ALGORITHM_CLASSES: dict[str, type[Algorithm]] = {
    cls.name: cls for cls in (DQN, DDPG, TD3, SAC, DiscreteSAC, PPO, A2C, MAPPO, IPPO, QMIX, VDN)
}


def build_algorithm(
    config: RunConfig, env: EnvBase, device: torch.device | str = "cpu", scratch_dir: Path | None = None
) -> Algorithm:
    """The configured algorithm for ``env``; ConfigError when it cannot act in the env's action space.
    ``scratch_dir`` holds a memory-mapped replay storage (a temporary folder without one)."""
    mismatch = algorithm_mismatch(config, env)
    if mismatch:
        raise ConfigError(mismatch)
    name = config.algorithm.name
    return ALGORITHM_CLASSES[name](config, env, torch.device(device), scratch_dir)


def algorithm_mismatch(config: RunConfig, env: EnvBase) -> str | None:
    """Why the configured algorithm cannot train in ``env`` (naming ``algorithm.name``): a
    single-agent one in a multi-agent env or the reverse, or an action space it cannot act in
    (each group's, in a multi-agent env); None when it fits."""
    name, env_id = config.algorithm.name, config.env.id
    multi_agent = is_multi_agent_env(env)
    mismatch = agents_mismatch(name, env_id, multi_agent)
    if mismatch or not multi_agent:
        return mismatch or action_kind_mismatch(name, env_id, action_kind(env))
    kinds = group_action_kinds(env)
    return next(filter(None, (action_kind_mismatch(name, f"{env_id}'s group {group}", kind)
                              for group, kind in kinds.items())), None)


__all__ = ["ALGORITHM_CLASSES", "Algorithm", "build_algorithm"]
