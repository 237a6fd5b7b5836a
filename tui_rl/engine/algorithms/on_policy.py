"""What PPO and A2C share: a sampling actor and a critic, GAE advantages, and passes over each fresh batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch
from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule
from torchrl.objectives.value import GAE

from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.networks.heads import make_actor_critic
from tui_rl.engine.networks.recurrent import sequence_mode


class OnPolicyAlgorithm(Algorithm):
    """Subclasses name their TorchRL loss class and its options that are not live."""

    logged_keys = ("entropy",)
    #: the TorchRL loss (an actor-critic one: actor, critic, entropy and critic coefficients)
    loss_class: ClassVar[type[LossModule]]

    def loss_options(self) -> dict[str, Any]:
        """Keyword arguments of :attr:`loss_class` besides the networks and the live coefficients."""
        return {}

    def build(self, env: EnvBase) -> LossModule:
        # Sampling explores; evaluation under DETERMINISTIC takes the most likely action (or the mean).
        self.actor, self.critic = make_actor_critic(self.config, env, self.device)
        self.set_policies(self.actor)
        # Built with non-zero coefficients: TorchRL leaves out a term whose coefficient is 0 when
        # the loss is built. apply_hparams then sets the configured ones, and they stay live
        # (entropy is logged, and entropy_coef can be raised from 0).
        return self.loss_class(
            self.actor, self.critic, entropy_coeff=1.0, critic_coeff=1.0, loss_critic_type="l2",
            **self.loss_options(),
        )

    def setup(self) -> None:
        # gamma and lmbda are live: apply_hparams sets them. A memory core cannot run under vmap
        # (GAE's batched call of the critic on now and next).
        self.value_estimator = GAE(
            gamma=0.99, lmbda=0.95, value_network=self.critic, deactivate_vmap=self.config.network.has_memory
        )

    def passes(self, batch_frames: int) -> tuple[int, int]:
        """(epochs, minibatch size) for a batch of ``batch_frames`` transitions."""
        return 1, batch_frames

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        with torch.no_grad():
            # advantages over the batch's time dim, before it is cut; a memory core reads each
            # step's stored state here
            self.value_estimator(batch)
        if self.config.network.has_memory:
            return self.learn(self.sequences(batch), frames)
        data = batch.reshape(-1)
        epochs, minibatch_size = self.passes(data.numel())
        minibatches = (
            data[index]
            for _ in range(epochs)
            for index in torch.randperm(data.numel(), device=data.device).split(minibatch_size)
        )
        return self.learn(minibatches, frames)

    def sequences(self, batch: TensorDictBase) -> Iterator[TensorDictBase]:
        """Minibatches for a memory core: runs of consecutive steps of every env copy ([envs,
        steps]), about minibatch-size steps in all, in shuffled order; the core learns through time
        on each run from the state stored with its first step."""
        data = batch if batch.ndim > 1 else batch.unsqueeze(0)
        epochs, minibatch_size = self.passes(data.numel())
        steps = max(1, minibatch_size // data.shape[0])
        runs = data.split(steps, dim=-1)
        for _ in range(epochs):
            yield from (runs[i] for i in torch.randperm(len(runs)).tolist())

    def losses(self, minibatch: TensorDictBase) -> TensorDictBase:
        with sequence_mode(self.config.network.has_memory):
            return self.loss_module(minibatch)

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        return {
            **super().live_settings(),
            "algorithm.gae_lambda": live_setting(self.value_estimator, "lmbda"),
            "algorithm.entropy_coef": live_setting(self.loss_module, "entropy_coeff"),
            "algorithm.critic_coef": live_setting(self.loss_module, "critic_coeff"),
        }
