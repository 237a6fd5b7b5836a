"""Heads on the encoder (and memory core): Q-values, a sampling actor, a deterministic action, a critic.

With a ConvNet or a memory core, the actor-critics share one trunk through ActorValueOperator, so
the images are encoded (and the memory stepped) once per step for both heads.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from tensordict.nn import NormalParamExtractor, TensorDictModule, TensorDictModuleBase, TensorDictSequential
from torch import nn
from torchrl.envs import EnvBase
from torchrl.modules import (
    ActorValueOperator,
    ProbabilisticActor,
    QValueActor,
    TanhNormal,
    MaskedCategorical,
    ValueOperator,
)

from tui_rl.config.models import RunConfig
from tui_rl.engine.networks.action_distributions import (
    ACTION_MASK_KEY,
    MASKED_LOGIT,
    IndependentBernoullis,
    IndependentCategoricals,
    choice_counts,
    has_action_mask,
    spec_kind,
)
from tui_rl.engine.networks.encoders import OBSERVATION_KEY, make_encoder, make_mlp
from tui_rl.engine.networks.recurrent import CRITIC_MEMORY_KEY, critic_memory, make_memory


def action_size(env: EnvBase) -> int:
    """Number of discrete actions, of the choices of all dimensions of a multi-discrete action
    together, or width of a continuous or binary action: one logit (or value) each."""
    spec = env.action_spec_unbatched
    kind = spec_kind(spec)
    if kind == "discrete":
        return spec.space.n
    if kind == "multi-discrete":
        return sum(choice_counts(spec))
    return spec.shape[-1]


def make_trunk(config: RunConfig, env: EnvBase, device) -> tuple[list[TensorDictModuleBase], str, int]:
    """Encoder then memory core, as TensorDict modules; the key the heads read and its width."""
    network = config.network
    modules, key, width = make_encoder(network, env, config.env.id, device)
    memory = make_memory(network, key, width, device)
    if memory is not None:
        modules.append(memory)
        key, width = memory.out_keys[0], network.recurrent_size
    return modules, key, width


def shares_trunk(config: RunConfig) -> bool:
    """Whether actor and critic share the encoder and memory (images, or a memory core)."""
    return config.network.encoder != "mlp" or config.network.has_memory


def make_q_actor(config: RunConfig, env: EnvBase, device) -> QValueActor:
    """Observation -> Q-value per action -> greedy action (among the legal ones, where the env masks them)."""
    trunk, key, width = make_trunk(config, env, device)
    head = make_mlp(config.network, width, action_size(env), device)
    mask = {"action_mask_key": ACTION_MASK_KEY} if has_action_mask(env) else {}
    if not trunk:  # an MLP on the observation, as before trunks existed (checkpoints keep loading)
        return QValueActor(head, in_keys=[OBSERVATION_KEY], spec=env.action_spec_unbatched, **mask)
    module = TensorDictSequential(*trunk, TensorDictModule(head, in_keys=[key], out_keys=["action_value"]))
    return QValueActor(module, spec=env.action_spec_unbatched, **mask)


def make_action_net(config: RunConfig, env: EnvBase, device, out_key: str) -> TensorDictModuleBase:
    """Observation -> one value per action dimension under ``out_key`` (DDPG's actor before tanh)."""
    trunk, key, width = make_trunk(config, env, device)
    head = TensorDictModule(make_mlp(config.network, width, action_size(env), device), in_keys=[key], out_keys=[out_key])
    return TensorDictSequential(*trunk, head) if trunk else head


def sampling_actor(
    config: RunConfig, env: EnvBase, device, key: str, width: int, trunk: list[TensorDictModuleBase] = ()
) -> ProbabilisticActor:
    """Reads ``key`` (after ``trunk``, run inside it): Categorical over discrete actions, one per
    dimension of a multi-discrete action (either masked by the env's ``action_mask`` where it gives one),
    a Bernoulli per switch of a binary one, TanhNormal within the bounds otherwise. The trunk goes
    inside the actor so the losses can ask it for its distribution."""
    spec = env.action_spec_unbatched
    kind = spec_kind(spec)
    in_keys = None
    if kind != "continuous":
        net = make_mlp(config.network, width, action_size(env), device)
        module = TensorDictModule(net, in_keys=[key], out_keys=["logits"])
        distribution, kwargs = {
            "discrete": (torch.distributions.Categorical, {}),
            "multi-discrete": (IndependentCategoricals, {"choices": choice_counts(spec)}),
            "binary": (IndependentBernoullis, {}),
        }[kind]
        if has_action_mask(env):  # discrete or multi-discrete (the env checks which)
            in_keys = {"logits": "logits", "mask": ACTION_MASK_KEY}
            if kind == "discrete":
                distribution, kwargs = MaskedCategorical, {"neg_inf": MASKED_LOGIT}
    else:
        net = nn.Sequential(make_mlp(config.network, width, 2 * action_size(env), device), NormalParamExtractor())
        module = TensorDictModule(net, in_keys=[key], out_keys=["loc", "scale"])
        distribution = TanhNormal
        kwargs = {"low": spec.space.low.to(device), "high": spec.space.high.to(device)}
    return ProbabilisticActor(
        TensorDictSequential(*trunk, module) if trunk else module,
        in_keys=in_keys or list(module.out_keys),
        spec=spec,
        distribution_class=distribution,
        distribution_kwargs=kwargs,
        return_log_prob=True,
    )


def value_head(config: RunConfig, device, key: str, width: int, in_keys: list[str] | None = None) -> ValueOperator:
    """V(features), or Q(features, action) when ``in_keys`` names both (their widths summed in ``width``)."""
    return ValueOperator(make_mlp(config.network, width, 1, device), in_keys=in_keys or [key])


def make_stochastic_actor(config: RunConfig, env: EnvBase, device) -> ProbabilisticActor:
    """A policy that samples actions (SAC's actor; the actor-critics use :func:`make_actor_critic`)."""
    trunk, key, width = make_trunk(config, env, device)
    return sampling_actor(config, env, device, key, width, trunk)


def make_critic(config: RunConfig, env: EnvBase, device, with_action: bool = False) -> TensorDictModuleBase:
    """V(s), or Q(s, a) with ``with_action`` (the head concatenates features and action)."""
    trunk, key, width = make_trunk(config, env, device)
    if with_action:
        critic = value_head(config, device, key, width + action_size(env), in_keys=[key, "action"])
    else:
        critic = value_head(config, device, key, width)
    return TensorDictSequential(*trunk, critic) if trunk else critic


class ActorCritic(NamedTuple):
    """PPO's and A2C's networks. ``critic`` computes V(s) from the observation (the advantages);
    ``loss_critic`` is what the loss reads after the actor ran on the same minibatch: with a
    shared trunk only the value head (on the features the actor wrote), so the trunk runs once
    per minibatch for both losses, as TorchRL's PPOLoss documents; ``critic`` itself otherwise."""

    actor: ProbabilisticActor
    critic: TensorDictModuleBase
    loss_critic: TensorDictModuleBase
    #: the keys the trunk writes (empty without a shared trunk), stale once the networks move
    features: tuple[str, ...]


def make_actor_critic(config: RunConfig, env: EnvBase, device) -> ActorCritic:
    """The networks of PPO / A2C: one shared trunk (ActorValueOperator) on images or with
    memory, two separate MLPs otherwise. Only the actor trains a shared memory core."""
    if not shares_trunk(config):
        actor = make_stochastic_actor(config, env, device)  # first: a seed draws the same weights as before
        critic = make_critic(config, env, device)
        return ActorCritic(actor, critic, critic, ())
    trunk, key, width = make_trunk(config, env, device)
    if config.network.has_memory:
        head = TensorDictSequential(critic_memory(), value_head(config, device, CRITIC_MEMORY_KEY, width))
    else:
        head = value_head(config, device, key, width)
    shared = ActorValueOperator(TensorDictSequential(*trunk), sampling_actor(config, env, device, key, width), head)
    features = tuple(str(k) for module in trunk for k in module.out_keys if not isinstance(k, tuple))
    return ActorCritic(shared.get_policy_operator(), shared.get_value_operator(), head, features)
