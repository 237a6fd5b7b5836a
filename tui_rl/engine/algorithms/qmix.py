"""QMIX and VDN: each agent's Q-network acts epsilon-greedily; a mixer joins the values of the
actions the agents chose into the group's value (QMIX: a monotonic network conditioned on the
group's observations; VDN: their sum), trained on replayed TD targets of the group's reward with
TorchRL's QMixerLoss, as TorchRL's example does (``sota-implementations/multiagent/qmix_vdn.py``).
For cooperative envs: one group, one shared reward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict import TensorDict, TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule
from torchrl.objectives.multiagent import QMixerLoss

from tui_rl.config.errors import ConfigError
from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.algorithms.dqn import DQN
from tui_rl.engine.algorithms.optimisation import LossMeans, gradient_step, total_loss
from tui_rl.engine.envs.multi_agent import group_names
from tui_rl.engine.networks.multi_agent import (
    ACTION_VALUE,
    CHOSEN_VALUE,
    group_exploration,
    group_mixer,
    group_q_network,
    joint_policy,
)


class QMIX(Algorithm):
    name = "qmix"

    def build(self, env: EnvBase) -> LossModule:
        groups = group_names(env)
        if len(groups) != 1:
            raise ConfigError.at("algorithm.name", f"{self.name} mixes the values of one cooperative group; "
                                 f"{self.config.env.id} has {len(groups)} ({', '.join(groups)}): use mappo or ippo")
        self.group = group = groups[0]
        q_network = group_q_network(self.config, env, group, self.device)
        self.exploration = group_exploration(self.config, env, group, self.device)
        self.set_policies(joint_policy([q_network]), self.exploration)
        self.annealed_frames = 0
        loss = QMixerLoss(q_network, group_mixer(self.config, env, group, self.device), delay_value=True,
                          action_space=env.full_action_spec_unbatched[group, "action"])
        loss.set_keys(action_value=(group, ACTION_VALUE), local_value=(group, CHOSEN_VALUE),
                      global_value=CHOSEN_VALUE, action=(group, "action"))
        return self.replay_parts(loss)

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config = self.config
        epsilon = self.anneal_epsilon(frames)
        # The group's reward is shared: its mean over the agents is the team's (TorchRL's example).
        batch.set(("next", "reward"), batch.get(("next", self.group, "reward")).mean(-2))
        means = LossMeans()
        for minibatch in self.replayed(batch, frames):
            losses = TensorDict(loss_qvalue=self.loss_module(minibatch)["loss"])
            gradient_step(total_loss(losses), self.optimizer, config.optim.max_grad_norm)
            self.target_updater.step()
            means.add(losses)
        return {**means.means(), "epsilon": epsilon}

    #: epsilon follows the frame count as DQN's does (the same fields: eps_start, eps_end, eps_decay_frames)
    anneal_epsilon = DQN.anneal_epsilon

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        return {**super().live_settings(), "algorithm.eps_end": live_setting(self.exploration, "eps_end")}


class VDN(QMIX):
    """QMIX's update with VDN's mixer (the agents' values summed); its section picks the mixer."""

    name = "vdn"
