"""Action masks: an env that says which of its discrete actions are legal at each step, as an
``action_mask`` entry of its Dict observation or of its info dict (True or 1: legal). For a
MultiDiscrete action the mask is flat, one flag per choice of each part, the parts one after another
(Gymnasium's ``MultiDiscrete.sample(mask=...)`` takes the same flags as one array per part).

The mask reaches the tensordict as a bool ``action_mask``; TorchRL's ActionMask transform narrows
the action spec to it, so random actions (warm-up, the inspector's random step) are legal too, and
the policies read it (a masked categorical, masked Q-values). It is never a network input.
"""

from __future__ import annotations

import torch
from torchrl.data import Binary, Categorical, Composite
from torchrl.envs import ActionMask, DTypeCastTransform, TransformedEnv
from torchrl.envs.libs.gym import default_info_dict_reader

from tui_rl.config.errors import ConfigError
from tui_rl.engine.compat import gym_env_of
from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY, choice_counts, spec_kind


def mask_actions(env: TransformedEnv, env_id: str) -> None:
    """When the Gymnasium env under ``env`` (just wrapped, not yet reset) gives an action mask:
    read it from the info dict if it comes there, as bool, and mask the action spec with it."""
    wrapper = env.base_env
    if ACTION_MASK_KEY not in wrapper.observation_spec.keys():
        given = mask_in_info(env)
        if given is None:
            return
        read_mask_from_info(wrapper, given)
    spec = env.action_spec_unbatched
    kind = spec_kind(spec)
    mask = env.observation_spec[ACTION_MASK_KEY]
    if kind not in ("discrete", "multi-discrete"):
        env.close()
        raise ConfigError.at("env.id", f"{env_id} gives an action mask for a {kind} action space; tui-rl masks "
                                       "Discrete and MultiDiscrete actions only")
    width = spec.space.n if kind == "discrete" else sum(choice_counts(spec))
    if mask.shape[-1:] != (width,):
        env.close()
        raise ConfigError.at("env.id", f"{env_id} gives an action mask of shape {list(mask.shape[-1:])} for {width} "
                                       "choices; it takes one flag per choice (a MultiDiscrete's parts one after another)")
    if mask.dtype != torch.bool:  # MultiBinary gives int8: the masks of TorchRL take bool
        env.append_transform(DTypeCastTransform(mask.dtype, torch.bool, in_keys=[ACTION_MASK_KEY], in_keys_inv=[]))
    env.append_transform(FlatActionMask(mask_key=ACTION_MASK_KEY))


class FlatActionMask(ActionMask):
    """TorchRL's ActionMask, also for a MultiDiscrete whose parts have as many choices each, which
    TorchRL makes one Categorical of shape [parts]: its flat mask is handed over as one row per part."""

    def _call(self, next_tensordict):
        spec = self.action_spec
        if type(spec) is Categorical and spec.shape != self.parent.batch_size:  # [copies..., parts]
            mask = next_tensordict.get(ACTION_MASK_KEY)
            spec.update_mask(mask.reshape(*mask.shape[:-1], spec.shape[-1], spec.space.n).to(spec.device))
            return next_tensordict
        return super()._call(next_tensordict)


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
