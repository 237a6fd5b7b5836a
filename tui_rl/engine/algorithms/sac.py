"""SAC: a stochastic TanhNormal actor and twin Q-networks, with a learned entropy temperature alpha."""

from __future__ import annotations

import torch
from torchrl.envs import EnvBase
from torchrl.objectives import SACLoss

from tui_rl.config.algorithms import SACConfig
from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.networks import make_critic, make_stochastic_actor
from tui_rl.engine.algorithms.off_policy import OffPolicyAlgorithm


class SAC(OffPolicyAlgorithm):
    name = "sac"
    logged_keys = ("alpha", "entropy")

    def __init__(self, config: RunConfig, env: EnvBase, device: torch.device) -> None:
        super().__init__(config, env, device)
        algo: SACConfig = config.algorithm
        # Sampling explores; evaluation under DETERMINISTIC acts with the squashed mean.
        self.actor = make_stochastic_actor(config, env, device)
        self.collector_policy = self.eval_policy = self.actor
        self.setup(
            SACLoss(
                self.actor,
                make_critic(config, env, device, with_action=True),
                num_qvalue_nets=2,
                loss_function="l2",
                alpha_init=algo.alpha_init,
                fixed_alpha=algo.fixed_alpha,
                target_entropy=algo.target_entropy,
                action_spec=env.action_spec_unbatched,
            )
        )
