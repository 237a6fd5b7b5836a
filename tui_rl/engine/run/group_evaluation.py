"""Evaluation in a multi-agent env: the policy plays whole episodes in every env copy at once (as
TorchRL's multi-agent examples evaluate), and an episode's return is the mean over the groups of
each group's return (its agents' mean), as the training curve's ``episode_return`` is."""

from __future__ import annotations

import math

import torch
from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.envs.utils import set_exploration_type

from tui_rl.engine.envs.multi_agent import returning_groups
from tui_rl.engine.policy.playback import exploration_type
from tui_rl.engine.protocol import Evaluated

#: steps of each rollout, and most rollouts, before an evaluation settles for the episodes it has
ROLLOUT_STEPS = 500
MAX_ROLLOUTS = 10


def evaluate_groups(env: EnvBase, policy, episodes: int, deterministic: bool) -> Evaluated:
    """Play ``policy`` until ``episodes`` episodes ended (or the rollouts run out); their mean return."""
    returns: list[float] = []
    lengths: list[float] = []
    with torch.no_grad(), set_exploration_type(exploration_type(deterministic)):
        for _ in range(MAX_ROLLOUTS):
            rollout = env.rollout(ROLLOUT_STEPS, policy, break_when_any_done=False)
            ended_returns, ended_lengths = ended_episodes(rollout)
            returns += ended_returns
            lengths += ended_lengths
            if len(returns) >= episodes:
                break
    returns, lengths = returns[:episodes] or [math.nan], lengths[:episodes] or [math.nan]
    mean = sum(returns) / len(returns)
    spread = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)) if len(returns) > 1 else 0.0
    return Evaluated(mean_return=mean, std_return=spread, episodes=len(returns), mean_length=sum(lengths) / len(lengths))


def ended_episodes(rollout: TensorDictBase) -> tuple[list[float], list[float]]:
    """The return (mean over groups of the agents' mean) and length of each episode that ended."""
    after = rollout.get("next")
    done = after.get("done").squeeze(-1)
    per_group = torch.stack([after.get(key).float().mean((-2, -1)) for key in returning_groups(after).values()])
    returns = per_group.mean(0)[done].tolist()
    steps = after.get("step_count", None)
    lengths = steps.squeeze(-1)[done].float().tolist() if steps is not None else [math.nan] * len(returns)
    return returns, lengths
