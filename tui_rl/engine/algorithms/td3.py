"""TD3: DDPG's actor and noise, twin critics, smoothed target actions, and a delayed actor.

The critics train on every gradient step; the actor and the target networks only on every
``policy_delay``-th (Fujimoto et al., 2018). Target-action noise, like DDPG's exploration
noise, is relative to the action range: 0.2 on a [-2, 2] action is 0.4.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule, TD3Loss

from tui_rl.config.algorithms import TD3Config
from tui_rl.engine.algorithms.ddpg import DDPG
from tui_rl.engine.algorithms.optimisation import LossMeans, gradient_step, total_loss
from tui_rl.engine.networks.heads import make_critic


class TD3(DDPG):
    name = "td3"
    #: gradient steps so far (checkpointed, so a resume keeps the actor's turns)
    gradient_steps = 0

    def build(self, env: EnvBase) -> LossModule:
        algo: TD3Config = self.config.algorithm
        spec = env.action_spec_unbatched
        self.half_range = ((spec.space.high - spec.space.low) / 2).to(self.device)
        loss = TD3Loss(
            self.build_actor(env),
            make_critic(self.config, env, self.device, with_action=True),
            action_spec=spec,
            num_qvalue_nets=2,
            policy_noise=algo.target_noise * self.half_range,
            noise_clip=algo.noise_clip * self.half_range,
            loss_function="l2",
        )
        return self.replay_parts(loss)

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        means = LossMeans()
        for minibatch in self.replayed(batch, frames):
            self.gradient_steps += 1
            actor_turn = self.gradient_steps % self.config.algorithm.policy_delay == 0
            losses = self.loss_module(minibatch)
            if not actor_turn:  # still logged, but no gradient reaches the actor
                losses.set("loss_actor", losses.get("loss_actor").detach())
            gradient_step(total_loss(losses), self.optimizer, self.config.optim.max_grad_norm)
            if actor_turn:  # the targets follow the actor
                self.target_updater.step()
            means.add(losses)
        return means.means()

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        loss = self.loss_module

        def relative(attribute: str) -> Callable[[float], None]:
            return lambda value: setattr(loss, attribute, value * self.half_range)

        return {
            **super().live_settings(),
            "algorithm.target_noise": relative("policy_noise"),
            "algorithm.noise_clip": relative("noise_clip"),
        }

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "gradient_steps": self.gradient_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gradient_steps = int(state["gradient_steps"])
        super().load_state_dict(state)
