"""The one shape every algorithm has.

An algorithm builds its modules, loss and optimiser from the config and a proof env, gives the
collector a policy, and turns each collected batch into gradient steps with :meth:`update`. The
training loop (``tui_rl.engine.trainer``) does everything else: collection, evaluation, logging,
checkpoints and commands. A reader should find the whole of one algorithm in its own short file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase
from torch import nn

from tui_rl.config.models import RunConfig
from torchrl.envs import EnvBase

class Algorithm(ABC):
    """Base of DQN, DDPG, SAC, PPO and A2C."""

    #: the ``algorithm.name`` of the config
    name: ClassVar[str]

    #: the policy the collector runs (with exploration)
    collector_policy: TensorDictModuleBase
    #: the policy evaluation runs, under ``set_exploration_type(DETERMINISTIC)`` when configured
    eval_policy: TensorDictModuleBase
    #: the TorchRL loss module; holds every trained network, targets included
    loss_module: nn.Module
    #: replay buffer of off-policy algorithms, None for on-policy ones
    replay_buffer: Any = None

    def __init__(self, config: RunConfig, env: EnvBase, device: torch.device) -> None:
        self.config = config
        self.device = device

    @abstractmethod
    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        """Train on one collected batch (``frames``: the run's frame count after it).

        Returns the scalars to log: each loss term (``loss_*``), and exploration values such as
        ``epsilon``, ``entropy`` or ``alpha``. Values are plain floats.
        """

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser by name, for checkpoints and learning-rate changes."""

    def apply_hparams(self, config: RunConfig) -> None:
        """Take live-tunable values from ``config`` (already validated) at once.

        The default sets the learning rate of every optimiser; algorithms extend it for their own
        live fields (gamma, tau, epsilon, ...). ``self.config`` is replaced by the loop afterwards.
        """
        for optimizer in self.optimizers().values():
            for group in optimizer.param_groups:
                group["lr"] = config.optim.lr

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: networks (targets included), optimisers, exploration state."""
        return {
            "loss_module": self.loss_module.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss_module.load_state_dict(state["loss_module"])
        for key, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][key])
