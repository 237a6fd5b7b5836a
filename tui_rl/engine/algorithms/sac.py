"""SAC: a stochastic TanhNormal actor and twin Q-networks, with a learned entropy temperature
alpha, trained on replayed transitions; the target networks follow by soft updates."""

from __future__ import annotations

from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule, SACLoss

from tui_rl.config.algorithms import SACConfig
from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.algorithms.optimisation import LossMeans, gradient_step, total_loss
from tui_rl.engine.networks.heads import make_critic, make_stochastic_actor


class SAC(Algorithm):
    name = "sac"

    def build(self, env: EnvBase) -> LossModule:
        algo: SACConfig = self.config.algorithm
        # Sampling explores; evaluation under DETERMINISTIC acts with the squashed mean.
        actor = make_stochastic_actor(self.config, env, self.device)
        self.set_policies(actor)
        loss = SACLoss(
            actor,
            make_critic(self.config, env, self.device, with_action=True),
            num_qvalue_nets=2,
            loss_function="l2",
            alpha_init=algo.alpha_init,
            fixed_alpha=algo.fixed_alpha,
            target_entropy=algo.target_entropy,
            action_spec=env.action_spec_unbatched,
        )
        return self.replay_parts(loss)

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        means = LossMeans()
        for minibatch in self.replayed(batch, frames):
            losses = self.loss_module(minibatch)  # the actor's, the critics' and alpha's
            gradient_step(total_loss(losses), self.optimizer, self.config.optim.max_grad_norm)
            self.target_updater.step()
            means.add(losses, "alpha", "entropy")
        return means.means()
