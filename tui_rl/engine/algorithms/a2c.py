"""A2C: one advantage-weighted policy-gradient step (with a value step and an entropy bonus) on
each whole fresh batch, its advantages from GAE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import A2CLoss, LossModule

from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.algorithms.on_policy import (
    ACTOR_CRITIC_OPTIONS,
    actor_critic_settings,
    advantages,
    make_gae,
    shuffled_passes,
)
from tui_rl.engine.algorithms.optimisation import LossMeans, annealed_lr, gradient_step, set_lr, total_loss
from tui_rl.engine.networks.heads import make_actor_critic
from tui_rl.engine.networks.recurrent import sequence_mode


class A2C(Algorithm):
    name = "a2c"

    def build(self, env: EnvBase) -> LossModule:
        # Sampling explores; evaluation under DETERMINISTIC takes the most likely action (or the mean).
        # A2CLoss runs its actor on a copy of the minibatch, so its critic cannot read the features the
        # actor computed: it takes the whole critic (a shared trunk runs twice on its one step a batch)
        networks = make_actor_critic(self.config, env, self.device)
        self.actor, self.critic = networks.actor, networks.critic
        self.set_policies(self.actor)
        loss = A2CLoss(self.actor, self.critic, **ACTOR_CRITIC_OPTIONS)
        self.value_estimator = make_gae(self.critic, self.config)
        return loss

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config = self.config
        memory = config.network.has_memory
        advantages(self.value_estimator, batch)  # over the batch's time dim, before it is cut
        set_lr(self.optimizer, annealed_lr(config.optim, frames, config.collector.total_frames))
        means = LossMeans()
        # one step on the whole batch (a memory core: on its runs of steps, in shuffled order)
        for minibatch in shuffled_passes(batch, 1, batch.numel(), memory):
            with sequence_mode(memory):
                losses = self.loss_module(minibatch)  # policy-gradient, critic and entropy terms
            gradient_step(total_loss(losses), self.optimizer, config.optim.max_grad_norm)
            means.add(losses, "entropy")
        return means.means()

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        return {**super().live_settings(), **actor_critic_settings(self.loss_module, self.value_estimator)}
