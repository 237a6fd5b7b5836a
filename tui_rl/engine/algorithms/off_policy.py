"""What DQN, DDPG and SAC share: a replay buffer, a target network, and gradient steps on replayed minibatches."""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDictBase
from torchrl.objectives import LossModule

from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.algorithms.networks import (
    LossMeans,
    annealed_lr,
    gradient_step,
    make_optimizer,
    set_lr,
    total_loss,
)
from tui_rl.engine.algorithms.replay import make_replay_buffer, replay_minibatches
from tui_rl.engine.algorithms.targets import FusedHardUpdate, FusedSoftUpdate


class OffPolicyAlgorithm(Algorithm):
    """Subclasses build ``collector_policy``, ``eval_policy`` and ``loss_module``, then call :meth:`setup`."""

    #: scalars of the loss output logged besides the ``loss_*`` terms (``alpha``, ``entropy``)
    logged_keys: tuple[str, ...] = ()

    def setup(self, loss_module: LossModule) -> None:
        config = self.config
        self.loss_module = loss_module
        loss_module.make_value_estimator(gamma=config.algorithm.gamma)
        if getattr(config.algorithm, "target_update", "soft") == "hard":
            self.target_updater = FusedHardUpdate(
                loss_module, value_network_update_interval=config.algorithm.hard_update_period
            )
        else:
            self.target_updater = FusedSoftUpdate(loss_module, tau=config.algorithm.tau)
        # One optimiser over every trained network: each TorchRL loss term detaches the networks
        # it must not train, so one backward pass of the summed terms trains each net on its own term.
        self.optimizer = make_optimizer(config.optim, loss_module.parameters())
        self.replay_buffer = make_replay_buffer(config.replay_buffer, self.device)

    def losses(self, minibatch: TensorDictBase) -> TensorDictBase:
        """The loss module's output, with every term named ``loss_*``."""
        return self.loss_module(minibatch)

    def before_updates(self, frames: int) -> dict[str, float]:
        """Move the exploration schedule to ``frames``; return its values to log."""
        return {}

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config = self.config
        self.replay_buffer.extend(batch.reshape(-1))
        logged = self.before_updates(frames)
        if frames < config.collector.init_random_frames:
            return logged  # warm-up: the buffer fills with random play before learning starts
        set_lr(self.optimizer, annealed_lr(config.optim, frames, config.collector.total_frames))
        means = LossMeans()
        count = config.algorithm.updates_per_batch
        for minibatch in replay_minibatches(self.replay_buffer, config.replay_buffer, count):
            loss_td = self.losses(minibatch)
            loss, keys = total_loss(loss_td)
            gradient_step(loss, self.optimizer, config.optim.max_grad_norm)
            self.target_updater.step()
            if config.replay_buffer.prioritized:
                self.replay_buffer.update_tensordict_priority(minibatch)
            means.add(loss_td, keys + list(self.logged_keys))
        return {**means.means(), **logged}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def apply_hparams(self, config: RunConfig) -> None:
        super().apply_hparams(config)
        algo = config.algorithm
        self.loss_module.value_estimator.gamma.fill_(algo.gamma)
        if isinstance(self.target_updater, FusedHardUpdate):
            self.target_updater.value_network_update_interval = algo.hard_update_period
        else:
            self.target_updater.eps = 1 - algo.tau
        self.config = config

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "target_updater": self.target_updater.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.target_updater.load_state_dict(state["target_updater"])
