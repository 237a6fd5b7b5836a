"""What PPO and A2C share: a sampling actor and a critic, GAE advantages, and passes over each fresh batch."""

from __future__ import annotations

import torch
from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule
from torchrl.objectives.value import GAE

from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.algorithms.networks import (
    LossMeans,
    annealed_lr,
    gradient_step,
    make_critic,
    make_optimizer,
    make_stochastic_actor,
    set_lr,
    total_loss,
)


class OnPolicyAlgorithm(Algorithm):
    """Subclasses build their loss from ``self.actor`` and ``self.critic`` and call :meth:`setup`."""


    def __init__(self, config: RunConfig, env: EnvBase, device: torch.device) -> None:
        super().__init__(config, env, device)
        # Sampling explores; evaluation under DETERMINISTIC takes the most likely action (or the mean).
        self.actor = make_stochastic_actor(config, env, device)
        self.critic = make_critic(config, env, device)
        self.collector_policy = self.eval_policy = self.actor
        self.advantage = GAE(
            gamma=config.algorithm.gamma, lmbda=config.algorithm.gae_lambda, value_network=self.critic
        )

    def setup(self, loss_module: LossModule) -> None:
        # Entropy is computed even at coefficient 0 (A2CLoss would skip it): it is logged, and
        # entropy_coef can then be raised live.
        loss_module.entropy_bonus = True
        self.loss_module = loss_module
        self.optimizer = make_optimizer(self.config.optim, loss_module.parameters())

    def passes(self, batch_frames: int) -> tuple[int, int]:
        """(epochs, minibatch size) for a batch of ``batch_frames`` transitions."""
        return 1, batch_frames

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config = self.config
        set_lr(self.optimizer, annealed_lr(config.optim, frames, config.collector.total_frames))
        with torch.no_grad():
            self.advantage(batch)  # over the batch's time dim, before it is shuffled
        data = batch.reshape(-1)
        epochs, minibatch_size = self.passes(data.numel())
        means = LossMeans()
        for _ in range(epochs):
            for index in torch.randperm(data.numel(), device=data.device).split(minibatch_size):
                loss_td = self.loss_module(data[index])
                loss, keys = total_loss(loss_td)
                gradient_step(loss, self.optimizer, config.optim.max_grad_norm)
                means.add(loss_td, keys + ["entropy"])
        return means.means()

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def apply_hparams(self, config: RunConfig) -> None:
        super().apply_hparams(config)
        algo = config.algorithm
        self.advantage.gamma.fill_(algo.gamma)
        self.advantage.lmbda.fill_(algo.gae_lambda)
        self.loss_module.entropy_coeff.fill_(algo.entropy_coef)
        self.loss_module.critic_coeff.fill_(algo.critic_coef)
        self.config = config
