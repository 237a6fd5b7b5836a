"""PPO: several epochs of clipped policy-ratio updates on minibatches of each fresh batch."""

from __future__ import annotations

import torch
from torchrl.envs import EnvBase
from torchrl.objectives import ClipPPOLoss

from tui_rl.config.algorithms import PPOConfig
from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.on_policy import OnPolicyAlgorithm


class PPO(OnPolicyAlgorithm):
    name = "ppo"

    def __init__(self, config: RunConfig, env: EnvBase, device: torch.device) -> None:
        super().__init__(config, env, device)
        algo: PPOConfig = config.algorithm
        self.setup(
            ClipPPOLoss(
                self.actor,
                self.critic,
                clip_epsilon=algo.clip_epsilon,
                entropy_coeff=algo.entropy_coef,
                critic_coeff=algo.critic_coef,
                loss_critic_type="l2",
                normalize_advantage=algo.normalize_advantage,
            )
        )

    def passes(self, batch_frames: int) -> tuple[int, int]:
        algo: PPOConfig = self.config.algorithm
        return algo.epochs, min(algo.minibatch_size, batch_frames)

    def apply_hparams(self, config: RunConfig) -> None:
        super().apply_hparams(config)
        self.loss_module.clip_epsilon.fill_(config.algorithm.clip_epsilon)
