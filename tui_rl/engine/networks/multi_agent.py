"""Networks for a group of agents (a multi-agent env's group, whose entries are nested under its
name), as TorchRL's multi-agent examples build them: TorchRL's ``MultiAgentMLP`` maps each
agent's observation to its outputs, with one set of weights for the group (``share_params``) or
one per agent, reading its own observation or, centralised, every agent's of the group.
"""

from __future__ import annotations

import torch
from tensordict.nn import NormalParamExtractor, TensorDictModule, TensorDictSequential
from torch import nn
from torchrl.envs import EnvBase
from torchrl.modules import EGreedyModule, ProbabilisticActor, QValueModule, TanhNormal, ValueOperator
from torch.distributions import Categorical
from torchrl.modules.models.multiagent import MultiAgentMLP, QMixer, VDNMixer

from tui_rl.config.models import RunConfig
from tui_rl.engine.networks.action_distributions import spec_kind
from tui_rl.engine.networks.encoders import ACTIVATIONS

#: where a group's entries the networks write go, beside its observation: (group, name)
LOG_PROB = "action_log_prob"
STATE_VALUE = "state_value"
ACTION_VALUE = "action_value"
CHOSEN_VALUE = "chosen_action_value"


def group_mlp(
    config: RunConfig, env: EnvBase, group: str, outputs: int, device, *, centralised: bool = False
) -> MultiAgentMLP:
    """A MultiAgentMLP for ``group``: ``outputs`` per agent, the config's hidden sizes and activation."""
    observation = env.observation_spec_unbatched[group, "observation"]
    return MultiAgentMLP(
        n_agent_inputs=observation.shape[-1],
        n_agent_outputs=outputs,
        n_agents=observation.shape[0],
        centralised=centralised,
        share_params=config.algorithm.share_params,
        device=device,
        num_cells=list(config.network.hidden_sizes),
        depth=len(config.network.hidden_sizes),
        activation_class=ACTIVATIONS[config.network.activation],
    )


def group_actor(config: RunConfig, env: EnvBase, group: str, device) -> ProbabilisticActor:
    """The group's sampling policy: a TanhNormal in the action's bounds (continuous) or a
    categorical over the actions (discrete), with each action's log-probability."""
    spec = env.full_action_spec_unbatched[group, "action"]
    observation = (group, "observation")
    if spec_kind(spec[0]) == "discrete":
        net = TensorDictModule(group_mlp(config, env, group, spec.space.n, device), [observation], [(group, "logits")])
        return ProbabilisticActor(
            net, in_keys=[(group, "logits")], out_keys=[(group, "action")], spec=spec,
            distribution_class=Categorical, return_log_prob=True, log_prob_key=(group, LOG_PROB),
        )
    net = nn.Sequential(group_mlp(config, env, group, 2 * spec.shape[-1], device), NormalParamExtractor())
    module = TensorDictModule(net, in_keys=[observation], out_keys=[(group, "loc"), (group, "scale")])
    return ProbabilisticActor(
        module, in_keys=[(group, "loc"), (group, "scale")], out_keys=[(group, "action")], spec=spec,
        distribution_class=TanhNormal,
        distribution_kwargs={"low": spec.space.low.to(device), "high": spec.space.high.to(device)},
        return_log_prob=True, log_prob_key=(group, LOG_PROB),
    )


def group_critic(config: RunConfig, env: EnvBase, group: str, device) -> ValueOperator:
    """The group's critic: each agent's value, from its own observation or (``centralised``,
    MAPPO) from every agent's of the group."""
    net = group_mlp(config, env, group, 1, device, centralised=config.algorithm.centralised)
    return ValueOperator(net, in_keys=[(group, "observation")], out_keys=[(group, STATE_VALUE)])


def group_q_network(config: RunConfig, env: EnvBase, group: str, device) -> TensorDictSequential:
    """Each agent's action values, its greedy action and that action's value."""
    spec = env.full_action_spec_unbatched
    net = group_mlp(config, env, group, spec[group, "action"].space.n, device)
    values = TensorDictModule(net, in_keys=[(group, "observation")], out_keys=[(group, ACTION_VALUE)])
    greedy = QValueModule(
        action_value_key=(group, ACTION_VALUE), spec=spec, action_space=None,
        out_keys=[(group, "action"), (group, ACTION_VALUE), (group, CHOSEN_VALUE)],
    )
    return TensorDictSequential(values, greedy)


def group_exploration(config: RunConfig, env: EnvBase, group: str, device) -> EGreedyModule:
    algo = config.algorithm
    return EGreedyModule(
        env.full_action_spec_unbatched, eps_init=algo.eps_start, eps_end=algo.eps_end,
        annealing_num_steps=algo.eps_decay_frames, action_key=(group, "action"), device=device,
    )


def group_mixer(config: RunConfig, env: EnvBase, group: str, device) -> TensorDictModule:
    """QMIX's monotonic mixer conditioned on the group's observations (TorchRL's example does the
    same where the env gives no global state), or VDN's sum, into the group's chosen value."""
    observation = env.observation_spec_unbatched[group, "observation"]
    agents = observation.shape[0]
    if config.algorithm.name == "qmix":
        mixer = QMixer(state_shape=observation.shape, mixing_embed_dim=config.algorithm.mixing_embed_dim,
                       n_agents=agents, device=device)
        return TensorDictModule(mixer, in_keys=[(group, CHOSEN_VALUE), (group, "observation")],
                                out_keys=[CHOSEN_VALUE])
    return TensorDictModule(VDNMixer(n_agents=agents, device=device), in_keys=[(group, CHOSEN_VALUE)],
                            out_keys=[CHOSEN_VALUE])


def joint_policy(modules: list[torch.nn.Module]) -> TensorDictSequential:
    """The groups' policies acting together, one after the other on the same step."""
    return TensorDictSequential(*modules)
