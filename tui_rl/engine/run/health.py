"""Numeric health checks: NaN and inf spread silently, so they are caught before they are trained on
or reach a checkpoint, and the run ends with a reason the user can act on."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from tensordict import TensorDictBase

from tui_rl.config import RunConfig

ADVICE = "A lower optim.lr, a smaller reward scale or a positive optim.max_grad_norm usually helps."


class TrainingFailed(Exception):
    """Ends the run in state ``failed``; the message is the reason shown to the user."""


class NonFinite(TrainingFailed):
    """A NaN or inf in ``metric`` (a reward, a loss, a weight): the run fails with an alert."""

    def __init__(self, metric: str, message: str) -> None:
        super().__init__(message)
        self.metric = metric


def check_rewards(batch: TensorDictBase, frames: int) -> None:
    """Every reward of ``batch`` is finite (each group's, in a multi-agent env)."""
    after = batch.get("next")
    for key in after.keys(True, True):
        if key == "reward" or (isinstance(key, tuple) and key[-1] == "reward"):
            check_reward(after.get(key), frames)


def check_reward(reward: torch.Tensor, frames: int) -> None:
    if not torch.isfinite(reward).all():
        bad = reward[~torch.isfinite(reward)].flatten()[0].item()
        raise NonFinite("reward", f"the env returned a reward of {bad} (by frame {frames}); stopped before training on it")


def check_losses(values: dict[str, float], frames: int, config: RunConfig) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise NonFinite(
                name,
                f"{name} became {value} at frame {frames} (optim.lr={config.optim.lr:g}); the run "
                f"stopped without saving this state (earlier checkpoints are intact). {ADVICE}"
            )


def check_tensors(tensors: Iterable[tuple[str, torch.Tensor]], what: str, frames: int) -> None:
    """Fail when any of the named ``tensors`` holds NaN or inf (one reduction per tensor)."""
    for name, tensor in tensors:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise NonFinite(
                f"{what} {name}",
                f"{what} {name} holds non-finite values at frame {frames}; the run stopped without "
                f"saving this state (earlier checkpoints are intact). {ADVICE}"
            )


def check_parameters(module: torch.nn.Module, frames: int) -> None:
    check_tensors(((n, p.detach()) for n, p in module.named_parameters()), "the weight", frames)


def check_optimizers(optimizers: dict[str, torch.optim.Optimizer], frames: int) -> None:
    """Every tensor of every optimiser's state (Adam's moments can overflow while weights and
    losses stay finite)."""
    check_tensors(
        (
            (f"{opt_name} state {key}", value)
            for opt_name, optimizer in optimizers.items()
            for state in optimizer.state.values()
            for key, value in state.items()
            if isinstance(value, torch.Tensor)
        ),
        "the optimiser",
        frames,
    )
