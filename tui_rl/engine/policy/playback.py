"""Playback: the one place a policy plays an env outside the trainer's TorchRL ``Evaluator``.

``tui-rl eval``, its recorded video, the inspector's evaluation episode and the trainer's
evaluation snapshot all play an episode through :func:`play_episode`.
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDictBase
from torchrl.envs import EnvBase, ExplorationType, set_exploration_type

from tui_rl.engine.envs.making import EPISODE_REWARD_KEY

#: longest episode played (envs without a time limit would run forever)
MAX_EPISODE_STEPS = 10_000
#: longest episode played with its frames kept (a video, the inspector's evaluation episode):
#: frames cost 45-200 kB a step, so a long episode is cut here rather than filling the memory
MAX_RECORDED_STEPS = 1_000


def exploration_type(deterministic: bool) -> ExplorationType:
    """Greedy / the distribution's mode when ``deterministic``, else sampled actions."""
    return ExplorationType.DETERMINISTIC if deterministic else ExplorationType.RANDOM


def play_episode(env: EnvBase, policy: Any, *, deterministic: bool, max_steps: int = MAX_EPISODE_STEPS) -> TensorDictBase:
    """One episode of ``policy`` in ``env`` from a reset, at most ``max_steps`` steps; the rollout
    with batch size [T]. For copies of a vector env, the copy whose episode ended."""
    with torch.no_grad(), set_exploration_type(exploration_type(deterministic)):
        rollout = env.rollout(max_steps, policy, break_when_any_done=True)
    if rollout.ndim > 1:
        done = rollout.get(("next", "done")).reshape(*rollout.shape[:2], -1).any(-1)
        rollout = rollout[int(done.any(-1).float().argmax())]
    return rollout


def episode_return(rollout: TensorDictBase) -> float:
    """The return of the episode a rollout ends with: the env's own (RewardSum's ``episode_reward``,
    before any reward transform), else the sum of the rewards."""
    running = rollout.get(("next", EPISODE_REWARD_KEY), None)
    if running is not None:
        return float(running[-1].sum())
    return float(rollout.get(("next", "reward")).sum())


def was_cut(rollout: TensorDictBase, max_steps: int) -> bool:
    """Whether :func:`play_episode` stopped at ``max_steps`` before the episode ended."""
    return rollout.batch_size[0] >= max_steps and not bool(rollout.get(("next", "done"))[-1].any())
