"""Pendulum-v1 as batched tensors: Gymnasium's dynamics for many copies."""

from __future__ import annotations

import math

import torch

from tui_rl.engine.envs.batched.base import BatchedClassicEnv

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05


class Pendulum(BatchedClassicEnv):
    gym_id = "Pendulum-v1"
    max_episode_steps = 200
    options = {"g": 10.0}
    reset_low = (-math.pi, -1.0)
    reset_high = (math.pi, 1.0)
    observation_high = (1.0, 1.0, MAX_SPEED)
    action_bound = MAX_TORQUE

    def dynamics(self, state, action):
        theta, theta_dot = state[..., :1], state[..., 1:]
        torque = action.to(state.dtype).clamp(-MAX_TORQUE, MAX_TORQUE)
        self.last_torque = torque  # drawn as the arrow in frames
        normalized = torch.remainder(theta + math.pi, 2 * math.pi) - math.pi
        cost = normalized.square() + 0.1 * theta_dot.square() + 0.001 * torque.square()
        g = self.settings["g"]
        theta_dot = (theta_dot + (1.5 * g * theta.sin() + 3.0 * torque) * DT).clamp(-MAX_SPEED, MAX_SPEED)
        state = torch.cat((theta + theta_dot * DT, theta_dot), -1)
        return state, cost.neg(), torch.zeros_like(cost, dtype=torch.bool)

    def observe(self, state):
        theta = state[..., 0]
        return torch.stack((theta.cos(), theta.sin(), state[..., 1]), -1).to(torch.float32)

    def show(self, renderer, state):
        renderer.state = state
        last = getattr(self, "last_torque", None)
        renderer.last_u = None if last is None else float(last.reshape(-1)[0])
