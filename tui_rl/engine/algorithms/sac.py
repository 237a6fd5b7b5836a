"""SAC: a stochastic TanhNormal actor and twin Q-networks, with a learned entropy temperature alpha."""

from __future__ import annotations

from torchrl.envs import EnvBase
from torchrl.objectives import LossModule, SACLoss

from tui_rl.config.algorithms import SACConfig
from tui_rl.engine.algorithms.off_policy import OffPolicyAlgorithm
from tui_rl.engine.networks.heads import make_critic, make_stochastic_actor


class SAC(OffPolicyAlgorithm):
    name = "sac"
    logged_keys = ("alpha", "entropy")

    def build(self, env: EnvBase) -> LossModule:
        algo: SACConfig = self.config.algorithm
        # Sampling explores; evaluation under DETERMINISTIC acts with the squashed mean.
        actor = make_stochastic_actor(self.config, env, self.device)
        self.set_policies(actor)
        return SACLoss(
            actor,
            make_critic(self.config, env, self.device, with_action=True),
            num_qvalue_nets=2,
            loss_function="l2",
            alpha_init=algo.alpha_init,
            fixed_alpha=algo.fixed_alpha,
            target_entropy=algo.target_entropy,
            action_spec=env.action_spec_unbatched,
        )
