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
    """GAE over ``critic``; gamma and lmbda are live (apply_hparams sets them). A memory core
    cannot run under vmap (GAE's batched call of the critic on now and next)."""
    return GAE(gamma=0.99, lmbda=0.95, value_network=critic, deactivate_vmap=config.network.has_memory)


def shuffled_passes(
    batch: TensorDictBase, epochs: int, minibatch_size: int, memory: bool
) -> Iterator[TensorDictBase]:
    """``epochs`` passes over a fresh batch, each in shuffled minibatches of ``minibatch_size``
    steps. For a memory core (``memory``) a minibatch is runs of consecutive steps of every env
    copy ([envs, steps], about minibatch-size steps in all): the core learns through time on
    each run from the state stored with its first step.

    Only the fields a loss reads once the advantages are in are cut and shuffled: the next step's
    (``next``) fed the advantages alone, and the collector's tags nothing; a minibatch of fewer
    fields is cut in about a third of the time, and the loss copies less of it."""
    batch = batch.exclude("next", "collector")
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
