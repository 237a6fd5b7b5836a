"""A2C: one advantage-weighted policy-gradient step (plus a value step) per fresh batch."""

from __future__ import annotations

from torchrl.objectives import A2CLoss

from tui_rl.engine.algorithms.on_policy import OnPolicyAlgorithm


class A2C(OnPolicyAlgorithm):
    name = "a2c"
    loss_class = A2CLoss
