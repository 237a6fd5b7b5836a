"""Pieces PPO and A2C share: GAE advantages, shuffled passes over each fresh batch, and the live
coefficients of an actor-critic loss."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase
from torchrl.objectives import LossModule
from torchrl.objectives.value import GAE

from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.base import live_setting

#: Options of TorchRL's actor-critic losses besides the networks. The coefficients are built
#: non-zero because TorchRL leaves out a term whose coefficient is 0 when the loss is built;
#: apply_hparams then sets the configured ones, and they stay live (entropy is logged, and
#: entropy_coef can be raised from 0).
ACTOR_CRITIC_OPTIONS: dict[str, Any] = {"entropy_coeff": 1.0, "critic_coeff": 1.0, "loss_critic_type": "l2"}


def make_gae(critic: TensorDictModuleBase, config: RunConfig) -> GAE:
    """GAE over ``critic``; gamma and lmbda are live (apply_hparams sets them). Without memory the
    critic runs once over each env copy's steps and its last next step (``shifted``), not twice
    over steps and next steps: next[t] is step t + 1 but where an episode was cut short, whose
    next step :func:`advantages` makes room for. A memory core runs on now and next apart, out
    of vmap."""
    memory = config.network.has_memory
    return GAE(gamma=0.99, lmbda=0.95, value_network=critic, shifted=not memory, deactivate_vmap=memory)


def advantages(gae: GAE, batch: TensorDictBase) -> None:
    """Write GAE's advantages and value targets into ``batch`` ([env copies, steps] or [steps]).

    The shifted critic pass gets one slot more per copy than its most truncated copy has cut-short
    episodes, so it keeps every step with its exact next value (TorchRL drops the steps that find
    no room); the values are those of the two passes."""
    if gae.shifted:
        keys = gae.tensor_keys
        done = batch.get(("next", keys.done))
        cut = done & ~batch.get(("next", keys.terminated), default=done)
        cut = cut.reshape(*batch.shape, -1).any(-1)[..., :-1]  # the last step's next is in the pass anyway
        gae.shifted_budget = 1 + int(cut.sum(-1).max()) if cut.numel() else 1
    with torch.no_grad():
        gae(batch)
    batch.pop("shifted_valid", None)  # every step kept: the losses need no mask


def shuffled_passes(
    batch: TensorDictBase, epochs: int, minibatch_size: int, memory: bool, stale: tuple[str, ...] = ()
) -> Iterator[TensorDictBase]:
    """``epochs`` passes over a fresh batch, each in shuffled minibatches of ``minibatch_size``
    steps. For a memory core (``memory``) a minibatch is runs of consecutive steps of every env
    copy ([envs, steps], about minibatch-size steps in all): the core learns through time on
    each run from the state stored with its first step.

    Only the fields a loss reads once the advantages are in are cut and shuffled: the next step's
    (``next``) fed the advantages alone, the collector's tags nothing, and the ``stale`` features
    the policy computed while collecting are computed afresh by the loss; a minibatch of fewer
    fields is cut in about a third of the time, and the loss copies less of it."""
    batch = batch.exclude("next", "collector", *stale)
    if memory:
        data = batch if batch.ndim > 1 else batch.unsqueeze(0)
        runs = data.split(max(1, minibatch_size // data.shape[0]), dim=-1)
        for _ in range(epochs):
            yield from (runs[i] for i in torch.randperm(len(runs)).tolist())
        return
    data = batch.reshape(-1)
    for _ in range(epochs):
        yield from (data[index] for index in torch.randperm(data.numel(), device=data.device).split(minibatch_size))


def actor_critic_settings(loss: LossModule, gae: GAE) -> dict[str, Callable[[Any], None]]:
    """How the live fields every actor-critic has reach its loss and its GAE."""
    return {
        "algorithm.gae_lambda": live_setting(gae, "lmbda"),
        "algorithm.entropy_coef": live_setting(loss, "entropy_coeff"),
        "algorithm.critic_coef": live_setting(loss, "critic_coeff"),
    }


#: where checkpoints from before the loss read only the value head kept the critic: the shared
#: trunk again (a copy of the actor's), then the head
OLD_TRUNK, OLD_HEAD, CRITIC = "critic_network_params.module.0.", "critic_network_params.module.1.", "critic_network_params."


def keep_checkpoint_keys(loss: LossModule) -> None:
    """Let ``loss`` load checkpoints saved when its critic held the shared trunk too (the trunk
    ran twice a minibatch): their critic's trunk, a copy of the actor's, is dropped and its head
    kept. Checkpoints of the present layout load as they are."""

    def upgrade(module, state_dict, prefix, *_) -> None:
        expected = {prefix + key for key in module.state_dict()}
        if set(state_dict) <= expected:
            return
        old = [key for key in state_dict if key.startswith(prefix + CRITIC)]
        renamed = {key.replace(prefix + OLD_HEAD, prefix + CRITIC, 1): key for key in old if key.startswith(prefix + OLD_HEAD)}
        kept = (set(state_dict) - set(old)) | set(renamed)
        if kept != expected or not all(key.startswith(prefix + OLD_TRUNK) for key in set(old) - set(renamed.values())):
            return  # not that layout: load_state_dict names what does not fit
        for key in old:
            value = state_dict.pop(key)
            if key.startswith(prefix + OLD_HEAD):
                state_dict[key.replace(prefix + OLD_HEAD, prefix + CRITIC, 1)] = value

    loss.register_load_state_dict_pre_hook(upgrade)
