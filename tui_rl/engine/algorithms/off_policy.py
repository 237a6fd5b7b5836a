"""What DQN, DDPG, TD3 and SAC share: a replay buffer, a target network, and gradient steps on replayed minibatches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict import TensorDictBase

from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.algorithms.replay import make_replay_buffer, replay_minibatches
from tui_rl.engine.algorithms.targets import FusedHardUpdate, FusedSoftUpdate


class OffPolicyAlgorithm(Algorithm):
    """Subclasses build their policies and loss in :meth:`build`; the rest is here."""

    def setup(self) -> None:
        config = self.config
        self.loss_module.make_value_estimator()  # its gamma is live: apply_hparams sets it
        self.value_estimator = self.loss_module.value_estimator
        if getattr(config.algorithm, "target_update", "soft") == "hard":
            self.target_updater = FusedHardUpdate(
                self.loss_module, value_network_update_interval=config.algorithm.hard_update_period
            )
        else:
            self.target_updater = FusedSoftUpdate(self.loss_module, tau=config.algorithm.tau)
        self.replay_buffer = make_replay_buffer(config.replay_buffer, self.device, self.scratch_dir)

    def before_updates(self, frames: int) -> dict[str, float]:
        """Move the exploration schedule to ``frames``; return its values to log."""
        return {}

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config = self.config
        self.replay_buffer.extend(batch.reshape(-1))
        logged = self.before_updates(frames)
        if frames < config.collector.init_random_frames:
            return logged  # warm-up: the buffer fills with random play before learning starts
        count = config.algorithm.updates_per_batch
        # a memmap storage samples on the CPU: the minibatches go to the training device
        minibatches = (mb.to(self.device) for mb in replay_minibatches(self.replay_buffer, config.replay_buffer, count))
        return {**self.learn(minibatches, frames), **logged}

    def after_step(self, minibatch: TensorDictBase) -> None:
        if self.updates_targets():
            self.target_updater.step()
        if self.config.replay_buffer.prioritized:
            self.replay_buffer.update_tensordict_priority(minibatch)

    def updates_targets(self) -> bool:
        """Whether the target networks follow after this gradient step (TD3 delays them)."""
        return True

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        updater = self.target_updater
        if isinstance(updater, FusedHardUpdate):
            path, attribute = "algorithm.hard_update_period", "value_network_update_interval"
        else:
            path, attribute = "algorithm.tau", "tau"
        return {**super().live_settings(), path: live_setting(updater, attribute)}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "target_updater": self.target_updater.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.target_updater.load_state_dict(state["target_updater"])
        super().load_state_dict(state)
