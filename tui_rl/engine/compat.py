"""The places tui-rl reaches past TorchRL's public API, each checked by ``tests/test_compat.py``.

When TorchRL changes one of these, that test fails with the name of what moved, instead of a
checkpoint silently losing its replay buffer or its size check.
"""

from __future__ import annotations

from typing import Any

import torch
from torchrl.data import ReplayBuffer

#: the sampler state-dict entries that hold TorchRL segment trees (PrioritizedSampler): objects
#: that only pickle can store, converted to plain tensors of the priorities for checkpoints
SAMPLER_TREES = ("_sum_tree", "_min_tree")


def storage_contents(buffer: ReplayBuffer) -> Any:
    """The TensorDict a tensor or memmap storage preallocates (its private ``_storage``; None
    before the first write, a list for a ListStorage)."""
    return getattr(buffer.storage, "_storage", None)


def storage_bytes(buffer: ReplayBuffer) -> int | None:
    """Bytes a replay buffer's tensor storage takes (None before its first write): TorchRL has no
    public size, but its storage's TensorDict has ``bytes()``."""
    size = getattr(storage_contents(buffer), "bytes", None)
    return int(size()) if callable(size) else None


def replay_state_dict(buffer: ReplayBuffer) -> dict[str, Any]:
    """``buffer.state_dict()`` holding only tensors and plain values, so a checkpoint stores it for
    ``torch.load(weights_only=True)``: prioritised samplers' trees become priority tensors, of the
    filled rows only (the rest of a tree is never drawn from)."""
    state = buffer.state_dict()
    sampler = dict(state["_sampler"])
    for key in SAMPLER_TREES:
        if key in sampler:
            sampler[key] = tree_values(sampler[key], len(buffer))
    state["_sampler"] = sampler
    return state


def load_replay_state_dict(buffer: ReplayBuffer, state: dict[str, Any]) -> None:
    """The inverse of :func:`replay_state_dict`: priority tensors go back into the sampler's trees."""
    sampler = dict(state["_sampler"])
    own = buffer.sampler.state_dict()  # trees of the right kind and capacity, to fill
    for key in SAMPLER_TREES:
        if key in sampler:
            tree = own[key]
            values = sampler[key]
            tree[torch.arange(values.numel())] = values
            sampler[key] = tree
    buffer.load_state_dict({**state, "_sampler": sampler})


def tree_values(tree: Any, capacity: int) -> torch.Tensor:
    return torch.as_tensor(tree[torch.arange(capacity)], dtype=torch.float64).clone()


def target_source_pairs(updater) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """A TorchRL target updater's target tensors and their source tensors, in matching order (its
    own pairing, read from its private ``_sources`` / ``_targets``), for one fused update per step."""
    targets, sources = [], []
    for key in updater._sources.keys(True, True):
        key = key if isinstance(key, tuple) else (key,)
        targets.append(updater._targets.get(("target_" + key[0], *key[1:])))
        sources.append(updater._sources.get(key).data)
    return targets, sources


def gym_env_of(env: Any) -> Any:
    """The Gymnasium env under TorchRL's GymWrapper and transforms (its private ``_env``), or the
    one a batched torch env draws its frames with."""
    base = env.base_env
    return base.gym_renderer if hasattr(type(base), "gym_renderer") else base._env


def unchecked_tensordict(source: dict[str, torch.Tensor], batch_size: torch.Size, device: torch.device) -> Any:
    """A TensorDict of ``source`` built without validating each entry's shape and device (its private
    ``_new_unsafe``): the batched envs build two every step from tensors they made the right shape,
    and the checks cost as much as a whole CartPole step of 1024 copies."""
    from tensordict import TensorDict

    return TensorDict._new_unsafe(source, batch_size=batch_size, device=device)


def release_gym_import_error() -> None:
    """Drop the traceback of the ImportError TorchRL's ``envs/libs/utils.py`` keeps (its private
    ``IMPORT_ERROR``, from trying ``import gym`` before gymnasium). That module is first imported
    inside a GymWrapper's build, so the traceback's frames chain back through every caller's
    frame: the first env (an Atari one's native emulator, reported "leaked" at exit) and whatever
    the callers held stayed alive until the process ended. The error itself, and its message, stay."""
    from torchrl.envs.libs import utils

    error = getattr(utils, "IMPORT_ERROR", None)
    if error is not None:
        error.__traceback__ = None


def gym_space_spec(space: Any, device: Any) -> Any:
    """The TorchRL spec GymWrapper makes of one Gymnasium space (its private
    ``_gym_to_torchrl_spec_transform``), with actions as integers as tui-rl wraps them."""
    from torchrl.envs.libs.gym import _gym_to_torchrl_spec_transform

    return _gym_to_torchrl_spec_transform(space, device=device, categorical_action_encoding=True)
