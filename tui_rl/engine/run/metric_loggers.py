"""The metric loggers of a run: TorchRL's CSVLogger always, TensorBoard and W&B (offline) on request;
and the per-batch values the trainer logs besides the algorithm's own. Every logger takes the names
config/metrics.py declares, as they are."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import torch
from tensordict import TensorDictBase
from torchrl.record.loggers import CSVLogger, Logger

from tui_rl.config.metrics import EPISODE_LENGTH, EPISODE_RETURN, GROUP_RETURN
from tui_rl.config.models import LoggingConfig
from tui_rl.engine.envs.multi_agent import returning_groups
from tui_rl.engine.extras import require
from tui_rl.engine.runs.folder import METRICS_DIR


class MetricLoggers:
    """Logs each batch's scalars to every configured logger, flushing at once.

    The CSV files under ``metrics/`` are the run's history (``runfolder.read_metrics`` reads them);
    the CSV logger's in-memory copy of every value is dropped after each write so memory stays flat
    however long the run.
    """

    def __init__(self, run_dir: Path, config: LoggingConfig) -> None:
        self.csv = CSVLogger(exp_name=METRICS_DIR, log_dir=str(run_dir))
        self.loggers: dict[str, Logger] = {"csv": self.csv}
        if config.tensorboard:
            require("tensorboard", "logging.tensorboard")
            from torchrl.record.loggers.tensorboard import TensorboardLogger

            self.loggers["tensorboard"] = TensorboardLogger(exp_name="tensorboard", log_dir=str(run_dir))
        if config.wandb:
            require("wandb", "logging.wandb")
            self.loggers["wandb"] = offline_wandb_logger(Path(run_dir))

    def log(self, values: dict[str, float], frames: int) -> None:
        for logger in self.loggers.values():
            logger.log_metrics(values, step=frames)
            logger.flush()  # TensorBoard's writer would otherwise wait up to 120 s
        self.csv.experiment.scalars.clear()

    def state_dict(self) -> dict[str, Any]:
        return {name: logger.state_dict() for name, logger in self.loggers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, logger in self.loggers.items():
            # W&B's state is its step counters, unused (each log names its frame count), and its
            # run id, which it refuses to load into another run (a branch of this one)
            if name in state and name != "wandb":
                logger.load_state_dict(state[name])

    def close(self) -> None:
        for logger in self.loggers.values():
            logger.shutdown()


def offline_wandb_logger(run_dir: Path) -> Logger:
    """TorchRL's WandbLogger, offline (no network, no account) into ``<run>/wandb/``; a resumed run
    logs to the same W&B run id, so a later ``wandb sync`` joins them. It prints nothing and leaves
    stdout alone: the trainer's output is the progress bar or its log."""
    import wandb
    from torchrl.record.loggers.wandb import WandbLogger

    return WandbLogger(
        exp_name=run_dir.name, offline=True, save_dir=str(run_dir / "wandb"), mode="offline",
        id=hashlib.sha1(run_dir.name.encode(errors="surrogateescape")).hexdigest()[:16],
        project="tui-rl", log_env_packages=False,
        settings=wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False),
    )


def episode_metrics(batch: TensorDictBase) -> tuple[int, dict[str, float]]:
    """How many episodes ended in ``batch``, and their mean return and length. In a multi-agent
    env each group's return (its agents' mean) is logged as ``episode_return/<group>``, and
    ``episode_return`` is the mean over the groups."""
    done = batch.get(("next", "done")).squeeze(-1)
    ended = int(done.sum())
    if not ended:
        return 0, {}
    found = {}
    for metric, key in ((EPISODE_RETURN, "episode_reward"), (EPISODE_LENGTH, "step_count")):
        value = batch.get(("next", key), None)
        if value is not None:
            found[metric.name] = value.squeeze(-1)[done].float().mean().item()
    groups = group_returns(batch, done)
    if groups:
        found.update({GROUP_RETURN.name(group): value for group, value in groups.items()})
        found[EPISODE_RETURN.name] = sum(groups.values()) / len(groups)
    return ended, found


def group_returns(batch: TensorDictBase, done: torch.Tensor) -> dict[str, float]:
    """Each group's mean return over the episodes that ended (its agents' mean); {} for a
    single-agent batch."""
    after = batch.get("next")
    return {  # each [*batch, agents, 1]
        group: after.get(key).float().mean((-2, -1))[done].mean().item() for group, key in returning_groups(after).items()
    }


def learning_rate(optimizers: dict[str, torch.optim.Optimizer]) -> float:
    """The first optimiser's learning rate (they share ``optim.lr``); NaN without one."""
    for optimizer in optimizers.values():
        return float(optimizer.param_groups[0]["lr"])
    return math.nan
