"""MountainCar-v0 and MountainCarContinuous-v0 as batched tensors: Gymnasium's dynamics for many copies."""

from __future__ import annotations

import torch

from tui_rl.engine.envs.batched.base import BatchedClassicEnv

MIN_POSITION = -1.2
MAX_POSITION = 0.6
MAX_SPEED = 0.07
GRAVITY = 0.0025


def move(state: torch.Tensor, push: torch.Tensor) -> torch.Tensor:
    """The car's next (position, velocity) under the ``push`` added to its velocity: both envs
    clip speed and position the same way and stop the car at the left wall."""
    position, velocity = state.unbind(-1)
    velocity = (velocity + push - GRAVITY * (3 * position).cos()).clamp(-MAX_SPEED, MAX_SPEED)
    position = (position + velocity).clamp(MIN_POSITION, MAX_POSITION)
    velocity = velocity.masked_fill((position == MIN_POSITION) & (velocity < 0), 0.0)
    return torch.stack((position, velocity), -1)


def arrived(state: torch.Tensor, goal_position: float, goal_velocity: float) -> torch.Tensor:
    return ((state[..., :1] >= goal_position) & (state[..., 1:] >= goal_velocity))


class MountainCar(BatchedClassicEnv):
    gym_id = "MountainCar-v0"
    max_episode_steps = 200
    options = {"goal_velocity": 0.0}
    reset_low = (-0.6, 0.0)
    reset_high = (-0.4, 0.0)
    observation_high = (MAX_POSITION, MAX_SPEED)
    observation_low = (MIN_POSITION, -MAX_SPEED)
    num_actions = 3

    def dynamics(self, state, action):
        state = move(state, (action.to(state.dtype) - 1) * 0.001)
        terminated = arrived(state, 0.5, self.settings["goal_velocity"])
        return state, torch.full_like(terminated, -1.0, dtype=torch.float32), terminated


class MountainCarContinuous(MountainCar):
    gym_id = "MountainCarContinuous-v0"
    max_episode_steps = 999
    num_actions = None
    action_bound = 1.0

    def dynamics(self, state, action):
        action = action.to(state.dtype)
        state = move(state, action[..., 0].clamp(-1.0, 1.0) * 0.0015)
        terminated = arrived(state, 0.45, self.settings["goal_velocity"])
        state = state.to(torch.float32).to(state.dtype)  # Gymnasium keeps it in float32 between steps
        # the penalty is on the action as given, before clipping (as in Gymnasium)
        reward = terminated * 100.0 - 0.1 * action.square()
        return state, reward, terminated
