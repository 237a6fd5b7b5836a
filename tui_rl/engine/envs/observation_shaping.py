"""What the networks read of an observation that is not one float vector: a Dict of vectors
joined into one ``observation``, a Discrete state (or Dict entry) one-hot encoded, a Tuple flattened."""

from __future__ import annotations

from functools import partial

import gymnasium
import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorWrapper
from gymnasium.wrappers import DtypeObservation, FlattenObservation, vector
from torchrl.data import Categorical
from tensordict import NestedKey
from torchrl.envs import CatTensors, EnvBase, TransformedEnv, UnaryTransform

from tui_rl.engine.compat import gym_env_of
from tui_rl.engine.envs.env_error import EnvError
from tui_rl.config.models import NetworkConfig
from tui_rl.config.network_fit import chosen_inputs, unknown_keys
from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY
from tui_rl.engine.networks.encoders import OBSERVATION_KEY, dotted, nested, observation_inputs


def joined_observation(env: EnvBase, network: NetworkConfig, env_id: str) -> CatTensors | None:
    """For an env that observes a Dict of float vectors (no ``observation`` entry): the entries the
    networks read (``network.observation_keys``, else all) concatenated into one ``observation``, in
    key order, as SB3's MultiInputPolicy concatenates its per-key features (a Discrete entry is a
    one-hot vector by then). A Dict holding anything else (an image) is left as it is: the networks
    read it key by key."""
    given = env.base_env.observation_spec
    if OBSERVATION_KEY in env.observation_spec.keys() or OBSERVATION_KEY in given.keys() or "pixels" in given.keys():
        return None  # a Box (or image) the env gives, which the stack may have renamed on purpose
    inputs = observation_inputs(env)
    if (unknown := unknown_keys(network, inputs, env_id)) is not None:
        raise EnvError(str(unknown), unknown.errors)
    keys = [nested(key) for key in chosen_inputs(network, inputs)]
    leaves = [env.observation_spec_unbatched[key] for key in keys]
    if not keys or not all(leaf.dtype.is_floating_point and len(leaf.shape) == 1 for leaf in leaves):
        return None
    return CatTensors(in_keys=keys, out_key=OBSERVATION_KEY, del_keys=False)


class OneHotObservation(UnaryTransform):
    """One of ``states`` states (the ``key`` entry), as a float32 one-hot vector the MLP reads."""

    def __init__(self, states: int, key: NestedKey = OBSERVATION_KEY) -> None:
        super().__init__([key], [key], fn=partial(one_hot, states=states))
        self.states, self.key = states, key


def one_hot_observations(env: EnvBase) -> list[OneHotObservation]:
    """For an env that observes one of n states (Discrete: Taxi, FrozenLake, CliffWalking), or
    whose Dict holds such entries: each of them one-hot encoded, as SB3's ``preprocess_obs`` does
    (a Dict's then join with its vectors, see :func:`joined_observation`)."""
    given = env.base_env.observation_spec.keys(True, True)
    spec = env.observation_spec_unbatched
    return [OneHotObservation(leaf.space.n, key) for key, leaf in spec.items(True, True)
            if key in given and key != ACTION_MASK_KEY and type(leaf) is Categorical and leaf.shape == ()
            and leaf.space.n]


def one_hot(state: torch.Tensor, states: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(state.long(), states).float()


def joined_keys(env: EnvBase) -> list[str]:
    """The Dict entries ``env`` joins into its observation (see :func:`joined_observation`)."""
    if not isinstance(env, TransformedEnv):
        return []
    joins = [t for t in env.transform if isinstance(t, CatTensors) and t.out_keys == [OBSERVATION_KEY]]
    return [dotted(key) for key in joins[0].in_keys] if joins else []


def one_hot_states(env: EnvBase) -> dict[str, int]:
    """The entries ``env`` one-hot encodes (see :func:`one_hot_observations`), by dotted key, and
    how many states each has."""
    if not isinstance(env, TransformedEnv):
        return {}
    return {dotted(t.key): t.states for t in env.transform if isinstance(t, OneHotObservation)}


def one_hot_text(env: EnvBase) -> str:
    """The specs' line for the Discrete states ``env`` one-hot encodes; empty when it encodes none."""
    states = one_hot_states(env)
    if list(states) == [OBSERVATION_KEY]:
        return f"the env gives one of {states[OBSERVATION_KEY]} states (int64 [scalar]); the networks read it one-hot"
    return ", ".join(f"{key}: one of {n}" for key, n in states.items()) + (
        " (int64 [scalar]); the networks read each one-hot" if states else "")


def flattened_observations(gym_env: gymnasium.Env | VectorEnv) -> gymnasium.Env | VectorEnv:
    """For an env whose observations are or hold a Tuple (Blackjack): each observation flattened
    into one float32 vector, its discrete parts one-hot (Gymnasium's FlattenObservation), which the
    MLP reads. TorchRL's GymWrapper leaves a Tuple's spec a placeholder that fails at the first reset."""
    if not tuple_space(getattr(gym_env, "single_observation_space", gym_env.observation_space)):
        return gym_env
    if isinstance(gym_env, VectorEnv):
        return vector.DtypeObservation(vector.FlattenObservation(gym_env), np.float32)
    return DtypeObservation(FlattenObservation(gym_env), np.float32)


def flattened_space(env: EnvBase) -> gymnasium.Space | None:
    """The space ``env`` flattens (see :func:`flattened_observations`); None when it flattens none."""
    gym_env = gym_env_of(env)
    while isinstance(gym_env, (gymnasium.Wrapper, VectorWrapper)):
        if isinstance(gym_env, (FlattenObservation, vector.FlattenObservation)):
            inner = gym_env.env
            return getattr(inner, "single_observation_space", inner.observation_space)
        gym_env = gym_env.env
    return None


def tuple_space(space: gymnasium.Space) -> bool:
    """Whether ``space`` is or holds a Tuple space."""
    if isinstance(space, gymnasium.spaces.Tuple):
        return True
    return isinstance(space, gymnasium.spaces.Dict) and any(map(tuple_space, space.spaces.values()))
