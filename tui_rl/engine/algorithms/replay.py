"""Replay buffers for the off-policy algorithms: a storage (tensor, memory-mapped file, or list)
and a sampler (uniform, prioritised, or slices of consecutive steps)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from tensordict import TensorDictBase
from torchrl.data import (
    LazyMemmapStorage,
    LazyTensorStorage,
    ListStorage,
    PrioritizedSampler,
    RandomSampler,
    SliceSampler,
    Storage,
    TensorDictReplayBuffer,
)
from torchrl.data.replay_buffers.samplers import Sampler
from torchrl.data.replay_buffers.samplers import prioritized

from tui_rl.config.models import ReplayBufferConfig


class DenseTree:
    """The part of TorchRL's C++ segment trees that PrioritizedSampler uses, over one dense tensor.

    O(capacity) per sample instead of O(log capacity): a cumsum of 100k priorities takes
    about 0.1 ms, small beside a gradient step.
    """

    def __init__(self, capacity: int, neutral: float, reduce) -> None:
        self.values = torch.full((capacity,), neutral, dtype=torch.float64)
        self.reduce = reduce

    def __getitem__(self, index):
        return self.values[torch.as_tensor(index)]

    def __setitem__(self, index, value) -> None:
        self.values[torch.as_tensor(index)] = torch.as_tensor(value, dtype=torch.float64)

    def query(self, start: int, end: int) -> torch.Tensor:
        return self.reduce(self.values[start:end])

    def scan_lower_bound(self, mass) -> torch.Tensor:
        """For each mass, the first index whose running sum of priorities exceeds it."""
        mass = torch.as_tensor(mass, dtype=torch.float64)
        return torch.searchsorted(self.values.cumsum(0), mass, right=True)


class DensePrioritizedSampler(PrioritizedSampler):
    """TorchRL's PrioritizedSampler on :class:`DenseTree` when its C++ extension cannot load.

    The torchrl 0.14 wheels' extension fails to link against some torch builds (an undefined
    symbol with torch 2.13+cpu), which leaves PrioritizedSampler unusable; all its logic
    (priority exponent, importance weights, max priority for new items) is kept.
    """

    def _init(self) -> None:
        self._sum_tree = DenseTree(self._max_capacity, 0.0, torch.sum)
        self._min_tree = DenseTree(self._max_capacity, float("inf"), torch.min)
        self._max_priority = None


def make_storage(config: ReplayBufferConfig, device, scratch_dir: Path | None) -> Storage:
    """Where transitions are kept, each in the dtype the env gives (uint8 pixels stay uint8).

    ``tensor``: preallocated on the training device at the first write. ``memmap``: preallocated
    in files under ``scratch_dir`` (the run folder's ``replay/``; a temporary folder without one),
    so a large image buffer takes disk, not RAM; batches are copied to the device when sampled.
    ``list``: one TensorDict per transition, for data whose shape varies.
    """
    if config.storage == "memmap":
        # existsok: a resumed run reuses its files; their contents come back from the checkpoint
        return LazyMemmapStorage(config.size, scratch_dir=scratch_dir, existsok=True)
    if config.storage == "list":
        return ListStorage(config.size)
    return LazyTensorStorage(config.size, device=device)


#: where the collector numbers trajectories: slices never cross from one into another, also when
#: several env copies' steps interleave in the buffer
TRAJECTORY_KEY = ("collector", "traj_ids")


def make_sampler(config: ReplayBufferConfig) -> Sampler:
    """What ``replay_buffer.sampler`` names: uniform transitions, prioritised by TD error, or
    slices of ``slice_len`` consecutive steps of one trajectory (shorter at trajectory ends; the
    first step of each is marked ``is_init``, so a memory core restarts from its stored state)."""
    if config.sampler == "prioritized":
        native = prioritized.SumSegmentTreeFp32 is not None
        sampler_class = PrioritizedSampler if native else DensePrioritizedSampler
        return sampler_class(config.size, alpha=config.alpha, beta=config.beta)
    if config.sampler == "slice":
        return SliceSampler(slice_len=config.slice_len, traj_key=TRAJECTORY_KEY, strict_length=False)
    return RandomSampler()


def make_replay_buffer(config: ReplayBufferConfig, device, scratch_dir: Path | None = None) -> TensorDictReplayBuffer:
    """The configured sampler over the configured storage (see :func:`make_storage`, :func:`make_sampler`)."""
    # no batch size of its own: every draw names its size (TorchRL warns when the two differ, and
    # replay_minibatches draws many minibatches at once)
    return TensorDictReplayBuffer(
        storage=make_storage(config, device, scratch_dir),
        sampler=make_sampler(config),
        priority_key="td_error",
    )


def replay_minibatches(
    buffer: TensorDictReplayBuffer, config: ReplayBufferConfig, count: int, device=None
) -> Iterator[TensorDictBase]:
    """``count`` minibatches of ``config.batch_size`` transitions, on ``device`` when given (a
    memmap storage samples on the CPU).

    Uniform replay draws them all in one call, which costs a fraction of ``count`` calls and
    gives the same distribution; prioritised replay must draw each after the last one's
    priorities are written back (:func:`reprioritise`).
    """
    if config.sampler == "prioritized":
        minibatches: Iterator[TensorDictBase] = (buffer.sample(config.batch_size) for _ in range(count))
    else:
        minibatches = iter(buffer.sample(config.batch_size * count).split(config.batch_size))
    for minibatch in minibatches:
        yield minibatch if device is None else minibatch.to(device)


def reprioritise(buffer: TensorDictReplayBuffer, config: ReplayBufferConfig, minibatch: TensorDictBase) -> None:
    """With prioritised replay, the TD errors the loss wrote into ``minibatch`` become the
    priorities of its transitions."""
    if config.sampler == "prioritized":
        buffer.update_tensordict_priority(minibatch)
