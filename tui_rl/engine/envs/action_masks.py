"""Action masks: an env that says which of its discrete actions are legal at each step, as an
``action_mask`` entry of its Dict observation or of its info dict (True or 1: legal).

The mask reaches the tensordict as a bool ``action_mask``; TorchRL's ActionMask transform narrows
the action spec to it, so random actions (warm-up, the inspector's random step) are legal too, and
the policies read it (a masked categorical, masked Q-values). It is never a network input.
"""

from __future__ import annotations

import torch
from torchrl.data import Binary, Composite
from torchrl.envs import ActionMask, DTypeCastTransform, TransformedEnv
from torchrl.envs.libs.gym import default_info_dict_reader

from tui_rl.config.errors import ConfigError
from tui_rl.engine.compat import gym_env_of
from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY, spec_kind


def mask_actions(env: TransformedEnv, env_id: str) -> None:
    """When the Gymnasium env under ``env`` (just wrapped, not yet reset) gives an action mask:
    read it from the info dict if it comes there, as bool, and mask the action spec with it."""
    wrapper = env.base_env
    if ACTION_MASK_KEY not in wrapper.observation_spec.keys():
        given = mask_in_info(env)
        if given is None:
            return
        read_mask_from_info(wrapper, given)
    if spec_kind(env.action_spec_unbatched) != "discrete":
        env.close()
        raise ConfigError.at("env.id", f"{env_id} gives an action mask for a {spec_kind(env.action_spec_unbatched)} "
                                       "action space; tui-rl masks Discrete actions only")
    mask = env.observation_spec[ACTION_MASK_KEY]
    if mask.dtype != torch.bool:  # MultiBinary gives int8: the masks of TorchRL take bool
        env.append_transform(DTypeCastTransform(mask.dtype, torch.bool, in_keys=[ACTION_MASK_KEY], in_keys_inv=[]))
    env.append_transform(ActionMask(mask_key=ACTION_MASK_KEY))


def mask_in_info(env: TransformedEnv) -> torch.Tensor | None:
    """The ``action_mask`` of the Gymnasium env's reset info, if it gives one (the env is reset once to see)."""
    _, info = gym_env_of(env).reset()
    given = info.get(ACTION_MASK_KEY) if isinstance(info, dict) else None
    return None if given is None else torch.as_tensor(given)


def read_mask_from_info(wrapper, given: torch.Tensor) -> None:
    """Have TorchRL's GymWrapper copy the info dict's mask (like ``given``) into the tensordict."""
    actions, batch = given.shape[-1], wrapper.batch_size
    spec = Composite({ACTION_MASK_KEY: Binary(actions, shape=(*batch, actions), dtype=given.dtype)}, shape=batch)
    wrapper.set_info_dict_reader(default_info_dict_reader([ACTION_MASK_KEY], spec=spec))
