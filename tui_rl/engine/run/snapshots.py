"""Rollouts the trainer hands to clients on request: the latest collected episode (kept cheaply),
a fresh evaluation episode, or a replay-buffer sample."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from tensordict import TensorDictBase

from tui_rl.config import RunConfig
from tui_rl.engine.policy.playback import MAX_EPISODE_STEPS
from tui_rl.engine.policy.outputs import with_policy_outputs

if TYPE_CHECKING:
    from tui_rl.engine.run.parts import RunParts



class LatestEpisode:
    """The last complete episode of the first env copy, for snapshots.

    Batches are kept as slices and joined only when a snapshot asks, so following episodes across
    batches costs next to nothing per batch. At most about ``MAX_EPISODE_STEPS`` steps are kept.
    """

    def __init__(self) -> None:
        self.episode_parts: list[TensorDictBase] = []
        self.partial: list[TensorDictBase] = []

    def add(self, batch: TensorDictBase) -> None:
        # Copy env 0's slice of a vector env's batch, so the other copies' data can be freed.
        steps = batch[0].clone() if batch.ndim > 1 else batch
        done = steps.get(("next", "done")).squeeze(-1)
        if not done.any():
            self.partial.append(steps)
            while sum(part.numel() for part in self.partial) > MAX_EPISODE_STEPS:
                self.partial.pop(0)
            return
        ends = done.nonzero().squeeze(-1).tolist()
        if len(ends) > 1:
            self.episode_parts = [steps[ends[-2] + 1 : ends[-1] + 1]]
        else:
            self.episode_parts = [*self.partial, steps[: ends[-1] + 1]]
        rest = steps[ends[-1] + 1 :]
        self.partial = [rest] if rest.numel() else []

    @property
    def episode(self) -> TensorDictBase | None:
        return torch.cat(self.episode_parts) if self.episode_parts else None


def snapshot(
    source: str, parts: RunParts, latest: LatestEpisode, config: RunConfig, log: Callable[[str, str], None]
) -> TensorDictBase | None:
    """The rollout a ``SnapshotRollout`` asks for, on CPU, with what the policy makes of each step
    (so a client shows it without building a policy of its own); None (and a warning) when there
    is none."""
    if source == "eval":
        rollout = parts.eval_episode(config)
    elif source == "replay":
        buffer = parts.algorithm.replay_buffer
        if buffer is None or len(buffer) == 0:
            log(f"no replay buffer to sample from ({config.algorithm.name})", "warning")
            return None
        rollout = buffer.sample(config.replay_buffer.batch_size)
    else:
        rollout = latest.episode
        if rollout is None:
            return None
    return with_policy_outputs(rollout, parts.algorithm, deterministic=config.eval.deterministic).cpu()
