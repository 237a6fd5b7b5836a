"""Optimisation every algorithm shares: optimisers, a clipped gradient step, the learning-rate
schedule, and averaging the loss terms of a batch for logging."""

from __future__ import annotations

from collections import defaultdict

import torch
from tensordict import TensorDictBase

from tui_rl.config.models import OptimConfig

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def make_optimizer(optim: OptimConfig, params) -> torch.optim.Optimizer:
    kwargs = {"lr": optim.lr, "weight_decay": optim.weight_decay}
    return OPTIMIZERS[optim.optimizer](list(params), **kwargs)


def gradient_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, max_grad_norm: float) -> None:
    """One optimiser step on ``loss``, gradients clipped to ``max_grad_norm`` (0: not clipped)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()


def annealed_lr(optim: OptimConfig, frames: int, total_frames: int) -> float:
    """The learning rate at ``frames``: constant, or decayed linearly to zero with ``anneal_lr``."""
    if not optim.anneal_lr:
        return optim.lr
    return optim.lr * max(0.0, 1.0 - frames / total_frames)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class LossMeans:
    """Averages each ``loss_*`` term (and any other scalar) over the gradient steps of one batch.

    Sums stay tensors until :meth:`means`, so no step waits on a ``.item()`` sync.
    """

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = defaultdict(lambda: 0)
        self.count = 0

    def add(self, losses: TensorDictBase, *logged: str) -> None:
        """Count one gradient step's ``loss_*`` terms and the ``logged`` scalars (``entropy``)."""
        for key in [*loss_keys(losses), *logged]:
            self.sums[key] = self.sums[key] + losses.get(key).detach().mean()
        self.count += 1

    def means(self) -> dict[str, float]:
        return {key: float(total) / self.count for key, total in self.sums.items()}


def loss_keys(losses: TensorDictBase) -> list[str]:
    """The ``loss_*`` terms of a TorchRL loss output, in its order."""
    return [key for key in losses.keys() if key.startswith("loss_")]


def total_loss(losses: TensorDictBase) -> torch.Tensor:
    """The sum of every ``loss_*`` term of a TorchRL loss output: one backward pass trains each
    network on its own term (each TorchRL term detaches the networks it must not train)."""
    return sum(losses.get(key) for key in loss_keys(losses))
