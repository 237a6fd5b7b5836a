"""What PPO and A2C share: a sampling actor and a critic, GAE advantages, and passes over each fresh batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule
from torchrl.objectives.value import GAE

from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.algorithms.networks import make_critic, make_stochastic_actor


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
        self.actor = make_stochastic_actor(self.config, env, self.device)
        self.critic = make_critic(self.config, env, self.device)
        self.set_policies(self.actor)
        # Built with non-zero coefficients: TorchRL leaves out a term whose coefficient is 0 when
        # the loss is built. apply_hparams then sets the configured ones, and they stay live
        # (entropy is logged, and entropy_coef can be raised from 0).
        return self.loss_class(
            self.actor, self.critic, entropy_coeff=1.0, critic_coeff=1.0, loss_critic_type="l2",
            **self.loss_options(),
        )

    def setup(self) -> None:
        # gamma and lmbda are live: apply_hparams sets them
        self.value_estimator = GAE(gamma=0.99, lmbda=0.95, value_network=self.critic)

    def passes(self, batch_frames: int) -> tuple[int, int]:
        """(epochs, minibatch size) for a batch of ``batch_frames`` transitions."""
        return 1, batch_frames

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        with torch.no_grad():
            self.value_estimator(batch)  # advantages over the batch's time dim, before it is shuffled
        data = batch.reshape(-1)
        epochs, minibatch_size = self.passes(data.numel())
        minibatches = (
            data[index]
            for _ in range(epochs)
            for index in torch.randperm(data.numel(), device=data.device).split(minibatch_size)
        )
        return self.learn(minibatches, frames)

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        return {
            **super().live_settings(),
            "algorithm.gae_lambda": live_setting(self.value_estimator, "lmbda"),
            "algorithm.entropy_coef": live_setting(self.loss_module, "entropy_coeff"),
            "algorithm.critic_coef": live_setting(self.loss_module, "critic_coeff"),
        }
