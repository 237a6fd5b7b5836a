"""Actions of several parts (MultiDiscrete, MultiBinary) through copies of a Gymnasium vector env."""

from __future__ import annotations

import gymnasium
from torchrl.envs import EnvBase

from tui_rl.engine.compat import gym_space_spec


def keep_action_parts(env: EnvBase, gym_env: gymnasium.Env) -> None:
    """TorchRL converts a vector env's batched MultiDiscrete or MultiBinary space row by row and
    stacks the rows into a plain bounded integer spec, losing its parts (and with them, which
    algorithms take it): give ``env`` one copy's spec back, as TorchRL converts it, over the copies."""
    single = getattr(gym_env, "single_action_space", None)
    if not isinstance(single, (gymnasium.spaces.MultiDiscrete, gymnasium.spaces.MultiBinary)):
        return
    spec = gym_space_spec(single, env.device)
    base = env.base_env
    base.action_spec = spec.expand(*base.batch_size, *spec.shape)
