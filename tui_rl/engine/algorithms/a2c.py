"""A2C: one advantage-weighted policy-gradient step (plus a value step) per fresh batch."""

from __future__ import annotations

import torch
from torchrl.envs import EnvBase
from torchrl.objectives import A2CLoss

from tui_rl.config.algorithms import A2CConfig
from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.on_policy import OnPolicyAlgorithm


class A2C(OnPolicyAlgorithm):
    name = "a2c"

    def __init__(self, config: RunConfig, env: EnvBase, device: torch.device) -> None:
        super().__init__(config, env, device)
        algo: A2CConfig = config.algorithm
        self.setup(
            A2CLoss(
                self.actor,
                self.critic,
                entropy_coeff=algo.entropy_coef,
                critic_coeff=algo.critic_coef,
                loss_critic_type="l2",
            )
        )
