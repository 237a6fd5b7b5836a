"""What every algorithm shares: its optimiser, its policies, its live settings and its checkpoint state.

An algorithm builds its policies, its TorchRL loss and what works around that loss (value
estimator, target updater, replay buffer) from the config and a proof env (:meth:`Algorithm.build`),
and turns each collected batch into gradient steps with :meth:`Algorithm.update`, which reads top to
bottom in the algorithm's own file. The training loop (``tui_rl.engine.run.trainer``) does
everything else: collection, evaluation, logging, checkpoints and commands.

Live hyperparameters reach the TorchRL objects in one of two ways: a field read from
``self.config`` at each update (learning rate, gradient clipping, batch sizes, passes) takes
effect when :meth:`Algorithm.apply_hparams` replaces the config; every other live field is pushed
into the object that holds it by a setter from :meth:`Algorithm.live_settings`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase, TensorDictSequential
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule

from tui_rl.config.models import RunConfig, live_fields
from tui_rl.engine.algorithms.optimisation import annealed_lr, make_optimizer, set_lr
from tui_rl.engine.algorithms.replay import make_replay_buffer, replay_minibatches, reprioritise
from tui_rl.engine.algorithms.targets import FusedHardUpdate, FusedSoftUpdate
from tui_rl.engine.envs.transforms import build_transform


def live_setting(owner: object, attribute: str) -> Callable[[Any], None]:
    """A setter of ``owner.attribute``: a tensor (a TorchRL buffer) is filled in place, so the
    modules that read it keep the same tensor, device and dtype; anything else is assigned."""

    def set_value(value: Any) -> None:
        current = getattr(owner, attribute)
        if isinstance(current, torch.Tensor):
            current.fill_(value)
        else:
            setattr(owner, attribute, value)

    return set_value


class Algorithm(ABC):
    """Base of every algorithm: a subclass writes :meth:`build` and :meth:`update`."""

    #: the ``algorithm.name`` of the config
    name: ClassVar[str]

    #: the policy the collector runs (with exploration)
    collector_policy: TensorDictModuleBase
    #: the policy evaluation runs, under ``set_exploration_type(DETERMINISTIC)`` when configured
    eval_policy: TensorDictModuleBase
    #: the TorchRL value estimator whose ``gamma`` is the live ``algorithm.gamma``
    value_estimator: torch.nn.Module
    #: replay buffer of off-policy algorithms, None for on-policy ones
    replay_buffer: Any = None
    #: what moves the target networks of off-policy algorithms, None for on-policy ones
    target_updater: FusedSoftUpdate | FusedHardUpdate | None = None

    def __init__(
        self, config: RunConfig, env: EnvBase, device: torch.device, scratch_dir: Path | None = None
    ) -> None:
        self.config = config
        self.device = device
        #: where a memory-mapped replay storage keeps its files (the run folder's replay/)
        self.scratch_dir = scratch_dir
        #: the TorchRL loss module; holds every trained network, targets included
        self.loss_module: LossModule = self.build(env)
        # One optimiser over every trained network: each TorchRL loss term detaches the networks
        # it must not train, so one backward pass of the summed terms trains each net on its own term.
        self.optimizer = make_optimizer(config.optim, self.loss_module.parameters())
        self.register_env_keys()
        self.apply_hparams(config)

    @abstractmethod
    def build(self, env: EnvBase) -> LossModule:
        """Build the policies (with :meth:`set_policies`), the value estimator and, off-policy,
        the target updater and replay buffer (:meth:`replay_parts`); return the loss."""

    @abstractmethod
    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        """Train on one collected batch (``frames``: the run's frame count after it).

        Returns the scalars to log: each loss term (``loss_*``), and exploration values such as
        ``epsilon``, ``entropy`` or ``alpha``. Values are plain floats.
        """

    def set_policies(
        self, actor: TensorDictModuleBase, exploration: TensorDictModuleBase | None = None
    ) -> None:
        """Evaluation runs ``actor``; the collector runs it followed by ``exploration``, if any."""
        self.eval_policy = actor
        self.collector_policy = actor if exploration is None else TensorDictSequential(actor, exploration)

    def replay_parts(self, loss: LossModule, hard_update_period: int | None = None) -> LossModule:
        """Give an off-policy ``loss`` its TD value estimator, a target updater (soft with the
        live ``tau``, or a copy every ``hard_update_period`` steps) and a replay buffer."""
        loss.make_value_estimator()  # its gamma is live: apply_hparams sets it
        self.value_estimator = loss.value_estimator
        if hard_update_period is None:
            self.target_updater = FusedSoftUpdate(loss, tau=self.config.algorithm.tau)
        else:
            self.target_updater = FusedHardUpdate(loss, value_network_update_interval=hard_update_period)
        self.replay_buffer = make_replay_buffer(self.config.replay_buffer, self.device, self.scratch_dir)
        return loss

    def replayed(self, batch: TensorDictBase, frames: int) -> Iterator[TensorDictBase]:
        """Store ``batch`` in the replay buffer; after the warm-up, set the learning rate for
        ``frames`` and yield ``updates_per_batch`` replayed minibatches on the training device,
        writing back each one's priorities (prioritised replay) after the step on it."""
        config = self.config
        self.replay_buffer.extend(batch.reshape(-1))
        if frames < config.collector.init_random_frames:
            return  # warm-up: the buffer fills with random play before learning starts
        set_lr(self.optimizer, annealed_lr(config.optim, frames, config.collector.total_frames))
        count = config.algorithm.updates_per_batch
        for minibatch in replay_minibatches(self.replay_buffer, config.replay_buffer, count, self.device):
            yield minibatch
            reprioritise(self.replay_buffer, config.replay_buffer, minibatch)

    def register_env_keys(self) -> None:
        """Transforms that tell losses what counts as a done (EndOfLifeTransform: a lost life)
        register it with the loss and its value estimator, as TorchRL's Atari examples do."""
        for cfg in self.config.transforms:
            transform = build_transform(cfg)
            if hasattr(transform, "register_keys"):
                transform.register_keys(self.loss_module)
                transform.register_keys(self.value_estimator)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser by name, for checkpoints and learning-rate changes."""
        return {"optimizer": self.optimizer}

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        """How each pushed live field (dotted path) reaches the TorchRL object that holds it."""
        settings = {"algorithm.gamma": live_setting(self.value_estimator, "gamma")}
        if isinstance(self.target_updater, FusedHardUpdate):
            settings["algorithm.hard_update_period"] = live_setting(self.target_updater, "value_network_update_interval")
        elif self.target_updater is not None:
            settings["algorithm.tau"] = live_setting(self.target_updater, "tau")
        return settings

    def apply_hparams(self, config: RunConfig) -> None:
        """Take the live-tunable values of ``config`` (already validated) at once. The run's live
        changes come only through ``Trainer.apply_live``."""
        settings = self.live_settings()
        for path, value in live_fields(config).items():
            if path in settings:
                settings[path](value)
        self.config = config

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: networks (targets included), optimisers and the target
        updater. Exploration follows the frame count, which the trainer keeps."""
        state = {
            "loss_module": self.loss_module.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
        }
        if self.target_updater is not None:
            state["target_updater"] = self.target_updater.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.target_updater is not None:
            self.target_updater.load_state_dict(state["target_updater"])
        self.loss_module.load_state_dict(state["loss_module"])
        for key, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][key])
        # The config's live values win over the checkpoint's (a resume may change them).
        self.apply_hparams(self.config)
