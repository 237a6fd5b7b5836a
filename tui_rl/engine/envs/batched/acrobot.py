"""Acrobot-v1 as batched tensors: Gymnasium's two-link dynamics ("book" version, one RK4 step of
0.2 s, no torque noise) for many copies."""

from __future__ import annotations

import math

import torch

from tui_rl.engine.envs.batched.base import BatchedClassicEnv

DT = 0.2
MAX_VEL_1 = 4 * math.pi
MAX_VEL_2 = 9 * math.pi
G = 9.8
# both links: length 1, mass 1, centre of mass at 0.5, moment of inertia 1 (Gymnasium's constants)
M1 = M2 = L1 = I1 = I2 = 1.0
LC1 = LC2 = 0.5


def derivatives(state: torch.Tensor, torque: torch.Tensor) -> torch.Tensor:
    theta1, theta2, dtheta1, dtheta2 = state.unbind(-1)
    cos2, sin2 = theta2.cos(), theta2.sin()
    d1 = M1 * LC1**2 + M2 * (L1**2 + LC2**2 + 2 * L1 * LC2 * cos2) + I1 + I2
    d2 = M2 * (LC2**2 + L1 * LC2 * cos2) + I2
    phi2 = M2 * LC2 * G * torch.cos(theta1 + theta2 - math.pi / 2.0)
    phi1 = (
        -M2 * L1 * LC2 * dtheta2.square() * sin2
        - 2 * M2 * L1 * LC2 * dtheta2 * dtheta1 * sin2
        + (M1 * LC1 + M2 * L1) * G * torch.cos(theta1 - math.pi / 2)
        + phi2
    )
    ddtheta2 = (torque + d2 / d1 * phi1 - M2 * L1 * LC2 * dtheta1.square() * sin2 - phi2) / (
        M2 * LC2**2 + I2 - d2.square() / d1
    )
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return torch.stack((dtheta1, dtheta2, ddtheta1, ddtheta2), -1)


def wrap(angle: torch.Tensor) -> torch.Tensor:
    """``angle`` brought into [-pi, pi) by whole turns."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


class Acrobot(BatchedClassicEnv):
    gym_id = "Acrobot-v1"
    max_episode_steps = 500
    reset_low = (-0.1,) * 4
    reset_high = (0.1,) * 4
    observation_high = (1.0, 1.0, 1.0, 1.0, MAX_VEL_1, MAX_VEL_2)
    num_actions = 3

    def dynamics(self, state, action):
        torque = action.to(state.dtype) - 1.0  # actions 0, 1, 2: torque -1, 0, +1
        k1 = derivatives(state, torque)
        k2 = derivatives(state + DT / 2 * k1, torque)
        k3 = derivatives(state + DT / 2 * k2, torque)
        k4 = derivatives(state + DT * k3, torque)
        state = state + DT / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        theta1, theta2, dtheta1, dtheta2 = state.unbind(-1)
        state = torch.stack(
            (wrap(theta1), wrap(theta2), dtheta1.clamp(-MAX_VEL_1, MAX_VEL_1), dtheta2.clamp(-MAX_VEL_2, MAX_VEL_2)), -1
        )
        terminated = (-state[..., 0].cos() - (state[..., 1] + state[..., 0]).cos() > 1.0).unsqueeze(-1)
        return state, terminated.to(torch.float32) - 1.0, terminated

    def observe(self, state):
        theta = state[..., :2]  # [cos, sin] of each angle, then the two velocities
        angles = torch.stack((theta.cos(), theta.sin()), -1).flatten(-2)
        return torch.cat((angles, state[..., 2:]), -1).to(torch.float32)
