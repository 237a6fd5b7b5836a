"""DDPG: a deterministic actor with exploration noise, trained to maximise a learned Q(s, a) on
replayed transitions; the target networks follow by soft updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict import TensorDictBase
from tensordict.nn import TensorDictSequential
from torchrl.envs import EnvBase
from torchrl.modules import AdditiveGaussianModule, OrnsteinUhlenbeckProcessModule, TanhModule
from torchrl.objectives import DDPGLoss, LossModule

from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.algorithms.optimisation import LossMeans, gradient_step, total_loss
from tui_rl.engine.networks.heads import make_action_net, make_critic


class DDPG(Algorithm):
    name = "ddpg"

    def build(self, env: EnvBase) -> LossModule:
        actor = self.build_actor(env)
        critic = make_critic(self.config, env, self.device, with_action=True)
        return self.replay_parts(DDPGLoss(actor, critic, delay_actor=True, delay_value=True))

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        means = LossMeans()
        for minibatch in self.replayed(batch, frames):
            losses = self.loss_module(minibatch)  # the actor's and the critic's
            gradient_step(total_loss(losses), self.optimizer, self.config.optim.max_grad_norm)
            self.target_updater.step()
            means.add(losses)
        return means.means()

    def build_actor(self, env: EnvBase) -> TensorDictSequential:
        """The deterministic actor and its exploration noise, set as the policies (TD3 shares them)."""
        spec = env.action_spec_unbatched
        # tanh squashes the net's output into the action bounds
        actor = TensorDictSequential(
            make_action_net(self.config, env, self.device, "action_param"),
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
