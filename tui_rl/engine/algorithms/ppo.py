"""PPO: several epochs of clipped policy-ratio updates on minibatches of each fresh batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torchrl.objectives import ClipPPOLoss

from tui_rl.config.algorithms import PPOConfig
from tui_rl.engine.algorithms.base import live_setting
from tui_rl.engine.algorithms.on_policy import OnPolicyAlgorithm


class PPO(OnPolicyAlgorithm):
    name = "ppo"
    loss_class = ClipPPOLoss

    def loss_options(self) -> dict[str, Any]:
        return {"normalize_advantage": self.config.algorithm.normalize_advantage}

    def passes(self, batch_frames: int) -> tuple[int, int]:
        algo: PPOConfig = self.config.algorithm
        return algo.epochs, min(algo.minibatch_size, batch_frames)

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        clip = live_setting(self.loss_module, "clip_epsilon")
        return {**super().live_settings(), "algorithm.clip_epsilon": clip}
