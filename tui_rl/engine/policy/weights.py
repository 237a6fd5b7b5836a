"""A policy built outside the trainer and given weights: a state dict (the trainer's, sent over the
run handle), a loss module's or a whole ``Algorithm.state_dict()``, or a run folder's checkpoint.

:func:`load_run_policy` gives a run's policy from its own config and checkpoint (``tui-rl eval``,
``tui-rl export``); :func:`build_policy` gives one from any config and :data:`Weights` (the
inspector's live env and the rollouts it completes, which may take the live trainer's weights).
Branching's fit test (:mod:`tui_rl.engine.run.branching`) loads a checkpoint into a whole
algorithm, replay buffer included, and is not a policy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchrl.envs import EnvBase

from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms import Algorithm, build_algorithm
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.runs.checkpoints import NETWORKS, CheckpointStore, CheckpointUnusable
from tui_rl.engine.runs.folder import read_config


class WeightsError(ValueError):
    """Weights that do not fit the policy built from the config."""


class NoCheckpointYet(WeightsError):
    """A run that has written no checkpoint yet."""


#: a state dict, a run folder whose newest checkpoint to load, or None: the untrained weights
Weights = Mapping[str, Any] | Path | None


def load_policy_weights(algorithm: Algorithm, weights: Mapping[str, Any]) -> None:
    """Load ``weights`` into the algorithm's policy: the eval policy's state dict (what the trainer
    sends in ``WeightsReady``), a loss module's, or a whole ``Algorithm.state_dict()``."""
    if "loss_module" in weights:
        weights = weights["loss_module"]
    errors = []
    for module in (algorithm.eval_policy, algorithm.loss_module):
        try:
            module.load_state_dict(weights)
            return
        except RuntimeError as exc:
            errors.append(str(exc).splitlines()[0])
    raise WeightsError(f"the weights do not fit the {algorithm.name} policy built from this config ({errors[0]})")


def load_checkpoint(algorithm: Algorithm, run_dir: Path, frames: int | None = None) -> int | None:
    """Load the newest checkpoint of ``run_dir`` (or the one at ``frames``) that loads into
    ``algorithm``; its frame count, or None if the run has none yet. Damaged or unsafe checkpoints
    are passed over; when none loads, a WeightsError says why for each."""
    store = CheckpointStore(Path(run_dir), keep=1)
    try:
        store.check_directory()
    except CheckpointUnusable as exc:
        raise WeightsError(str(exc)) from None
    candidates = store.candidates()
    if frames is not None:
        chosen = [path for path in candidates if int(path.name) == frames]
        if not chosen:
            there = ", ".join(path.name for path in candidates) or "none yet"
            raise WeightsError(f"{Path(run_dir).name} has no checkpoint at {frames} frames (checkpoints: {there})")
        candidates = chosen
    problems = []
    for path in candidates:
        try:
            metadata, _loaded, _refused = store.load(path, {NETWORKS: algorithm})  # or CheckpointUnusable
        except CheckpointUnusable as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        except (RuntimeError, KeyError) as exc:  # a network of another shape, or a foreign checkpoint
            raise WeightsError(f"the checkpoint {path} does not fit the {algorithm.name} policy built from this config ({str(exc).splitlines()[0]})") from None
        return int(metadata.get("frames", path.name))
    if problems:
        raise WeightsError(f"no checkpoint of {Path(run_dir).name} can be loaded ({'; '.join(problems)})")
    return None


def apply_weights(algorithm: Algorithm, weights: Weights) -> str:
    """Load ``weights`` (see :data:`Weights`) into the algorithm; returns a few words saying where
    they came from."""
    if weights is None:
        return "untrained policy"
    if isinstance(weights, Path):
        frames = load_checkpoint(algorithm, weights)
        if frames is None:
            return "untrained policy (the run has no checkpoint yet)"
        return f"checkpoint at {frames:,} frames"
    load_policy_weights(algorithm, weights)
    return "the trainer's latest weights"


def ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker if sys.stderr cannot be handed to it.

    Replay-buffer storages hold multiprocessing values, and the first one starts the tracker
    process with sys.stderr's file descriptor. Inside a Textual app sys.stderr is a capture with
    none (``fileno()`` is -1) and the start fails; the tracker then gets /dev/null instead.
    """
    from multiprocessing import resource_tracker

    try:
        if sys.stderr.fileno() >= 0:
            return
    except (AttributeError, OSError, ValueError):
        pass
    saved = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


def build_policy(config: RunConfig, env: EnvBase, weights: Weights) -> tuple[Algorithm, str]:
    """The config's algorithm for ``env`` with ``weights`` (see :func:`apply_weights`) and where they came from."""
    ensure_resource_tracker()
    algorithm = build_algorithm(config, env, "cpu")
    return algorithm, apply_weights(algorithm, weights)


@dataclass
class RunPolicy:
    """A run's algorithm with one of its checkpoints loaded, the config it was built from, the
    one-copy env it acts in (:meth:`close` it), and the checkpoint's frame count."""

    config: RunConfig
    algorithm: Algorithm
    env: EnvBase
    frames: int

    @property
    def policy(self):
        """The eval policy, in eval mode."""
        return self.algorithm.eval_policy.eval()

    def close(self) -> None:
        self.env.close()


def load_run_policy(run_dir: Path, checkpoint: int | None = None, *, purpose: str = "load") -> RunPolicy:
    """The run's policy with the weights of its newest checkpoint (or the one at ``checkpoint``
    frames). WeightsError when that checkpoint is missing or does not fit; NoCheckpointYet, naming
    ``purpose`` (what the caller wants it for), when the run has none yet."""
    config = read_config(run_dir)
    env = make_env(config, num_envs=1)
    try:
        algorithm, _ = build_policy(config, env, None)
        frames = load_checkpoint(algorithm, run_dir, checkpoint)
        if frames is None:
            raise NoCheckpointYet(
                f"{Path(run_dir).name}: no checkpoint to {purpose} yet; one is written every "
                f"checkpoint.every_frames ({config.checkpoint.every_frames:,}) frames and when the run ends"
            )
    except BaseException:
        env.close()
        raise
    return RunPolicy(config, algorithm, env, frames)
