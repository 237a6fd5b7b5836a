"""The one shape every algorithm has.

An algorithm builds its policies and its TorchRL loss from the config and a proof env
(:meth:`Algorithm.build`), and turns each collected batch into gradient steps with :meth:`update`.
The training loop (``tui_rl.engine.run.trainer``) does everything else: collection, evaluation,
logging, checkpoints and commands. A reader should find the whole of one algorithm in its own
short file.

Live hyperparameters reach the TorchRL objects in one of two ways: a field read from
``self.config`` at each update (learning rate, gradient clipping, batch sizes, passes) takes
effect when :meth:`apply_hparams` replaces the config; every other live field is pushed into
the object that holds it by a setter from :meth:`live_settings`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase, TensorDictSequential
from torchrl.envs import EnvBase
from torchrl.objectives import LossModule

from tui_rl.config.models import RunConfig, live_fields
from tui_rl.engine.algorithms.optimisation import (
    LossMeans,
    annealed_lr,
    gradient_step,
    make_optimizer,
    set_lr,
    total_loss,
)
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
    """Base of DQN, DDPG, TD3, SAC, PPO and A2C."""

    #: the ``algorithm.name`` of the config
    name: ClassVar[str]
    #: scalars of the loss output logged besides the ``loss_*`` terms (``alpha``, ``entropy``)
    logged_keys: ClassVar[tuple[str, ...]] = ()

    #: the policy the collector runs (with exploration)
    collector_policy: TensorDictModuleBase
    #: the policy evaluation runs, under ``set_exploration_type(DETERMINISTIC)`` when configured
    eval_policy: TensorDictModuleBase
    #: the TorchRL value estimator whose ``gamma`` is the live ``algorithm.gamma``
    value_estimator: torch.nn.Module
    #: replay buffer of off-policy algorithms, None for on-policy ones
    replay_buffer: Any = None

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
        self.setup()
        self.register_env_keys()
        self.apply_hparams(config)

    @abstractmethod
    def build(self, env: EnvBase) -> LossModule:
        """Build the policies (with :meth:`set_policies`) and return the loss that trains them."""

    @abstractmethod
    def setup(self) -> None:
        """Build what works around the loss: its value estimator, target updater, replay buffer."""

    @abstractmethod
    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        """Train on one collected batch (``frames``: the run's frame count after it).

        Returns the scalars to log: each loss term (``loss_*``), and exploration values such as
        ``epsilon``, ``entropy`` or ``alpha``. Values are plain floats.
        """

    def register_env_keys(self) -> None:
        """Transforms that tell losses what counts as a done (EndOfLifeTransform: a lost life)
        register it with the loss and its value estimator, as TorchRL's Atari examples do."""
        for cfg in self.config.transforms:
            transform = build_transform(cfg)
            if hasattr(transform, "register_keys"):
                transform.register_keys(self.loss_module)
                transform.register_keys(self.value_estimator)

    def set_policies(
        self, actor: TensorDictModuleBase, exploration: TensorDictModuleBase | None = None
    ) -> None:
        """Evaluation runs ``actor``; the collector runs it followed by ``exploration``, if any."""
        self.eval_policy = actor
        self.collector_policy = actor if exploration is None else TensorDictSequential(actor, exploration)

    def learn(self, minibatches: Iterable[TensorDictBase], frames: int) -> dict[str, float]:
        """One gradient step per minibatch; the mean of each logged term over the steps."""
        config = self.config
        set_lr(self.optimizer, annealed_lr(config.optim, frames, config.collector.total_frames))
        means = LossMeans()
        for minibatch in minibatches:
            loss_td = self.losses(minibatch)
            loss, keys = total_loss(loss_td)
            gradient_step(loss, self.optimizer, config.optim.max_grad_norm)
            self.after_step(minibatch)
            means.add(loss_td, keys + list(self.logged_keys))
        return means.means()

    def losses(self, minibatch: TensorDictBase) -> TensorDictBase:
        """The loss module's output, with every term named ``loss_*``."""
        return self.loss_module(minibatch)

    def after_step(self, minibatch: TensorDictBase) -> None:
        """Work after each gradient step (target networks, priorities)."""

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser by name, for checkpoints and learning-rate changes."""
        return {"optimizer": self.optimizer}

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        """How each pushed live field (dotted path) reaches the TorchRL object that holds it."""
        return {"algorithm.gamma": live_setting(self.value_estimator, "gamma")}

    def apply_hparams(self, config: RunConfig) -> None:
        """Take the live-tunable values of ``config`` (already validated) at once."""
        settings = self.live_settings()
        for path, value in live_fields(config).items():
            if path in settings:
                settings[path](value)
        self.config = config

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: networks (targets included) and optimisers. Exploration
        follows the frame count, which the trainer keeps."""
        return {
            "loss_module": self.loss_module.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss_module.load_state_dict(state["loss_module"])
        for key, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][key])
        # The config's live values win over the checkpoint's (a resume may change them).
        self.apply_hparams(self.config)
