"""CartPole-v1 as batched tensors: Gymnasium's ``CartPoleEnv`` (Euler integration) for many copies."""

from __future__ import annotations

import math

import torch

from tui_rl.engine.envs.batched.base import BatchedClassicEnv

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
HALF_LENGTH = 0.5
POLEMASS_LENGTH = MASS_POLE * HALF_LENGTH
FORCE = 10.0
TAU = 0.02
THETA_LIMIT = 12 * 2 * math.pi / 360
X_LIMIT = 2.4


class CartPole(BatchedClassicEnv):
    gym_id = "CartPole-v1"
    max_episode_steps = 500
    options = {"sutton_barto_reward": False}
    reset_low = (-0.05,) * 4
    reset_high = (0.05,) * 4
    observation_high = (X_LIMIT * 2, math.inf, THETA_LIMIT * 2, math.inf)
    num_actions = 2

    def place_constants(self) -> None:
        super().place_constants()
        self._force = torch.tensor((-FORCE, FORCE), dtype=self.copies.state.dtype, device=self.device)
        self._limits = torch.tensor((X_LIMIT, THETA_LIMIT), dtype=self.copies.state.dtype, device=self.device)
        self._reward = torch.ones_like(self._false, dtype=torch.float32)

    def dynamics(self, state, action):
        # Gymnasium's formulas, regrouped into as few tensor ops as possible: at 1024 copies each
        # op costs about as much as the arithmetic of all copies
        _, x_dot, theta, theta_dot = state.unbind(-1)
        cos, sin = theta.cos(), theta.sin()
        # temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
        temp = torch.addcmul(self._force.take(action), theta_dot.square(), sin, value=POLEMASS_LENGTH).div_(TOTAL_MASS)
        # theta_acc = (g * sin - cos * temp) / (length * (4/3 - masspole * cos**2 / total_mass))
        denominator = cos.square().mul_(-HALF_LENGTH * MASS_POLE / TOTAL_MASS).add_(HALF_LENGTH * 4.0 / 3.0)
        theta_acc = torch.addcmul(sin.mul(GRAVITY), cos, temp, value=-1.0).div_(denominator)
        # x_acc = temp - polemass_length * theta_acc * cos / total_mass
        x_acc = torch.addcmul(temp, theta_acc, cos, value=-POLEMASS_LENGTH / TOTAL_MASS)
        state = torch.add(state, torch.stack((x_dot, x_acc, theta_dot, theta_acc), -1), alpha=TAU)
        terminated = (state[..., 0::2].abs() > self._limits).any(-1, keepdim=True)
        if self.settings["sutton_barto_reward"]:  # 0 while balancing, -1 when it falls
            return state, terminated.to(torch.float32).neg_(), terminated
        return state, self._reward.clone(), terminated
