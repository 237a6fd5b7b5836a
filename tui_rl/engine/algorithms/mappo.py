"""MAPPO and IPPO: PPO for each group of agents of a multi-agent env, as TorchRL's multi-agent PPO
example trains it (``sota-implementations/multiagent/mappo_ippo.py``). Each group has its own
actor and critic (``MultiAgentMLP``), its own GAE and its own ClipPPOLoss with the group's keys;
MAPPO's critic reads every agent's observation of the group (``centralised``), IPPO's each its
own. A competitive env (simple_tag) so trains one policy per side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.algorithms.on_policy import ACTOR_CRITIC_OPTIONS, shuffled_passes
from tui_rl.engine.algorithms.optimisation import LossMeans, annealed_lr, gradient_step, set_lr, total_loss
from tui_rl.engine.envs.multi_agent import group_names, with_group_dones
from tui_rl.engine.networks.multi_agent import LOG_PROB, STATE_VALUE, group_actor, group_critic, joint_policy


def group_keys(group: str) -> dict[str, tuple[str, str]]:
    """The keys a group's GAE and loss read and write, nested under the group."""
    return {
        "advantage": (group, "advantage"), "value_target": (group, "value_target"),
        "value": (group, STATE_VALUE), "reward": (group, "reward"), "done": (group, "done"),
        "terminated": (group, "terminated"),
    }


def fanned_out(setters: list[Callable[[Any], None]]) -> Callable[[Any], None]:
    """One live field set in every group's object."""

    def set_all(value: Any) -> None:
        for setter in setters:
            setter(value)

    return set_all


class MAPPO(Algorithm):
    name = "mappo"

    def build(self, env: EnvBase) -> torch.nn.Module:
        self.groups = group_names(env)
        actors = {group: group_actor(self.config, env, group, self.device) for group in self.groups}
        self.set_policies(joint_policy(list(actors.values())))
        losses, self.estimators = {}, {}
        normalize = self.config.algorithm.normalize_advantage
        for group, actor in actors.items():
            critic = group_critic(self.config, env, group, self.device)
            loss = ClipPPOLoss(actor, critic, normalize_advantage=normalize, **ACTOR_CRITIC_OPTIONS)
            loss.set_keys(**group_keys(group), action=(group, "action"), sample_log_prob=(group, LOG_PROB))
            losses[group] = loss
            self.estimators[group] = GAE(gamma=0.99, lmbda=0.95, value_network=critic)  # live: apply_hparams
            self.estimators[group].set_keys(**group_keys(group))
        self.value_estimator = next(iter(self.estimators.values()))
        return GroupLosses(losses)

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config, algo = self.config, self.config.algorithm
        with_group_dones(batch, self.groups)
        with torch.no_grad():
            for estimator in self.estimators.values():  # each group's advantages over the batch's time dim
                estimator(batch)
        set_lr(self.optimizer, annealed_lr(config.optim, frames, config.collector.total_frames))
        means = LossMeans()
        minibatch_size = min(algo.minibatch_size, batch.numel())
        for minibatch in shuffled_passes(batch, algo.epochs, minibatch_size, memory=False):
            losses = self.loss_module(minibatch)
            gradient_step(total_loss(losses), self.optimizer, config.optim.max_grad_norm)
            means.add(losses, "entropy")
        return means.means()

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        losses, estimators = list(self.loss_module.groups.values()), list(self.estimators.values())
        return {
            "algorithm.gamma": fanned_out([live_setting(e, "gamma") for e in estimators]),
            "algorithm.gae_lambda": fanned_out([live_setting(e, "lmbda") for e in estimators]),
            "algorithm.entropy_coef": fanned_out([live_setting(loss, "entropy_coeff") for loss in losses]),
            "algorithm.critic_coef": fanned_out([live_setting(loss, "critic_coeff") for loss in losses]),
            "algorithm.clip_epsilon": fanned_out([live_setting(loss, "clip_epsilon") for loss in losses]),
        }


class IPPO(MAPPO):
    """MAPPO's update; its section's default critic reads each agent's own observation."""

    name = "ippo"


class GroupLosses(torch.nn.Module):
    """Every group's ClipPPOLoss, called as one loss on a batch holding all the groups."""

    def __init__(self, losses: dict[str, ClipPPOLoss]) -> None:
        super().__init__()
        self.groups = torch.nn.ModuleDict(losses)

    def forward(self, batch: TensorDictBase) -> TensorDictBase:
        return sum_groups([loss(batch) for loss in self.groups.values()])


def sum_groups(outputs: list[TensorDictBase]) -> TensorDictBase:
    """The groups' loss outputs as one: each ``loss_*`` term summed over the groups (one backward
    pass trains each group's networks on its own terms), the entropy and clipped share averaged."""
    averaged = [key for key in ("entropy", "clip_fraction") if key in outputs[0].keys()]
    joined = outputs[0].select(*[key for key in outputs[0].keys() if key.startswith("loss_")], *averaged)
    for output in outputs[1:]:
        for key in joined.keys():
            joined.set(key, joined.get(key) + output.get(key))
    for key in averaged:
        joined.set(key, joined.get(key) / len(outputs))
    return joined
