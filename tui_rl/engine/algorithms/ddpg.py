"""DDPG: a deterministic actor with exploration noise, trained to maximise a learned Q(s, a)."""

from __future__ import annotations

import torch
from tensordict.nn import TensorDictModule, TensorDictSequential
from torchrl.envs import EnvBase
from torchrl.modules import AdditiveGaussianModule, OrnsteinUhlenbeckProcessModule, TanhModule
from torchrl.objectives import DDPGLoss

from tui_rl.config.algorithms import DDPGConfig
from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.networks import (
    OBSERVATION_KEY,
    action_size,
    make_critic,
    make_mlp,
    observation_size,
)
from tui_rl.engine.algorithms.off_policy import OffPolicyAlgorithm


class DDPG(OffPolicyAlgorithm):
    name = "ddpg"

    def __init__(self, config: RunConfig, env: EnvBase, device: torch.device) -> None:
        super().__init__(config, env, device)
        algo: DDPGConfig = config.algorithm
        spec = env.action_spec_unbatched
        net = make_mlp(config.network, observation_size(env), action_size(env), device)
        # tanh squashes the net's output into the action bounds
        self.actor = TensorDictSequential(
            TensorDictModule(net, in_keys=[OBSERVATION_KEY], out_keys=["action_param"]),
            TanhModule(in_keys=["action_param"], out_keys=["action"], spec=spec),
        )
        # Noise is relative to the action range: noise_sigma 0.1 moves a [-2, 2] action by 0.2.
        half_range = ((spec.space.high - spec.space.low) / 2).to(device)
        if algo.noise == "ou":
            # The OU state restarts with each episode: make_env adds the InitTracker it reads.
            self.exploration = OrnsteinUhlenbeckProcessModule(
                spec, eps_init=algo.noise_sigma, eps_end=algo.noise_sigma,
                sigma=half_range.mean().item(), device=device,
            )
            self.noise_scale = self.exploration.eps
        else:
            self.exploration = AdditiveGaussianModule(
                spec, sigma_init=algo.noise_sigma, sigma_end=algo.noise_sigma,
                std=half_range.tolist(), device=device,
            )
            self.noise_scale = self.exploration.sigma
        self.collector_policy = TensorDictSequential(self.actor, self.exploration)
        self.eval_policy = self.actor
        critic = make_critic(config, env, device, with_action=True)
        self.setup(DDPGLoss(self.actor, critic, delay_actor=True, delay_value=True))

    def apply_hparams(self, config: RunConfig) -> None:
        super().apply_hparams(config)
        self.noise_scale.fill_(config.algorithm.noise_sigma)
