"""DDPG: a deterministic actor with exploration noise, trained to maximise a learned Q(s, a)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict.nn import TensorDictModule, TensorDictSequential
from torchrl.envs import EnvBase
from torchrl.modules import AdditiveGaussianModule, OrnsteinUhlenbeckProcessModule, TanhModule
from torchrl.objectives import DDPGLoss, LossModule

from tui_rl.engine.algorithms.base import live_setting
from tui_rl.engine.algorithms.networks import OBSERVATION_KEY, make_action_mlp, make_critic
from tui_rl.engine.algorithms.off_policy import OffPolicyAlgorithm


class DDPG(OffPolicyAlgorithm):
    name = "ddpg"

    def build(self, env: EnvBase) -> LossModule:
        actor = self.build_actor(env)
        critic = make_critic(self.config, env, self.device, with_action=True)
        return DDPGLoss(actor, critic, delay_actor=True, delay_value=True)

    def build_actor(self, env: EnvBase) -> TensorDictSequential:
        """The deterministic actor and its exploration noise, set as the policies (TD3 shares them)."""
        spec = env.action_spec_unbatched
        # tanh squashes the net's output into the action bounds
        actor = TensorDictSequential(
            TensorDictModule(
                make_action_mlp(self.config, env, self.device), in_keys=[OBSERVATION_KEY], out_keys=["action_param"]
            ),
            TanhModule(in_keys=["action_param"], out_keys=["action"], spec=spec),
        )
        # Noise is relative to the action range: noise_sigma 0.1 moves a [-2, 2] action by 0.2.
        # Its scale is live (apply_hparams sets it); it does not anneal.
        half_range = ((spec.space.high - spec.space.low) / 2).to(self.device)
        if self.config.algorithm.noise == "ou":
            # The OU state restarts with each episode: make_env adds the InitTracker it reads.
            self.exploration = OrnsteinUhlenbeckProcessModule(
                spec, sigma=half_range.mean().item(), device=self.device,
            )
        else:
            self.exploration = AdditiveGaussianModule(spec, std=half_range.tolist(), device=self.device)
        self.set_policies(actor, self.exploration)
        return actor

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        scale = "eps" if isinstance(self.exploration, OrnsteinUhlenbeckProcessModule) else "sigma"
        return {**super().live_settings(), "algorithm.noise_sigma": live_setting(self.exploration, scale)}
