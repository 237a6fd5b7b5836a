"""PPO: several epochs of clipped policy-ratio updates on shuffled minibatches of each fresh batch,
with GAE advantages computed once per batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import ClipPPOLoss, LossModule

from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.algorithms.on_policy import (
    ACTOR_CRITIC_OPTIONS,
    actor_critic_settings,
    advantages,
    keep_checkpoint_keys,
    make_gae,
    shuffled_passes,
)
from tui_rl.engine.algorithms.optimisation import LossMeans, annealed_lr, gradient_step, set_lr, total_loss
from tui_rl.engine.networks.heads import make_actor_critic
from tui_rl.engine.networks.recurrent import sequence_mode


class PPO(Algorithm):
    name = "ppo"

    def build(self, env: EnvBase) -> LossModule:
        # Sampling explores; evaluation under DETERMINISTIC takes the most likely action (or the mean).
        networks = make_actor_critic(self.config, env, self.device)
        self.actor, self.critic, self.features = networks.actor, networks.critic, networks.features
        self.set_policies(self.actor)
        normalize = self.config.algorithm.normalize_advantage
        # the loss's critic reads the features its actor pass wrote: a shared trunk runs once a minibatch
        loss = ClipPPOLoss(self.actor, networks.loss_critic, normalize_advantage=normalize, **ACTOR_CRITIC_OPTIONS)
        keep_checkpoint_keys(loss)
        self.value_estimator = make_gae(self.critic, self.config)
        return loss

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config, algo = self.config, self.config.algorithm
        memory = config.network.has_memory
        # advantages over the batch's time dim, before it is cut; a memory core reads each
        # step's stored state here
        advantages(self.value_estimator, batch)
        set_lr(self.optimizer, annealed_lr(config.optim, frames, config.collector.total_frames))
        means = LossMeans()
        minibatch_size = min(algo.minibatch_size, batch.numel())
        for minibatch in shuffled_passes(batch, algo.epochs, minibatch_size, memory, stale=self.features):
            with sequence_mode(memory):
                losses = self.loss_module(minibatch)  # clipped objective, critic and entropy terms
            gradient_step(total_loss(losses), self.optimizer, config.optim.max_grad_norm)
            means.add(losses, "entropy")
        return means.means()

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        return {
            **super().live_settings(),
            **actor_critic_settings(self.loss_module, self.value_estimator),
            "algorithm.clip_epsilon": live_setting(self.loss_module, "clip_epsilon"),
        }
