"""Rollouts to inspect: a live env stepped by hand or by the policy, and the policy's view of any rollout.

Every step of a :class:`LiveEnvSession` is one TensorDict as TorchRL's ``env.step`` returns it
(observation, action, ``next`` with reward / done / terminated / truncated, ...) plus the rendered
frame under ``pixels`` and what the policy makes of the step's observation under ``policy``
(Q-values ``action_value`` for DQN, ``logits`` and ``probs`` or ``loc`` and ``scale`` for PPO, A2C
and SAC, and the ``action`` it would take: the deterministic action for DDPG). Steps are appended
to a rollout with batch size [T], which is what the inspector shows.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.envs import EnvBase, ExplorationType, set_exploration_type
from torchrl.envs.utils import step_mdp
from torchrl.record.recorder import PixelRenderTransform

from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms import Algorithm, build_algorithm
from tui_rl.engine.checkpoint import CheckpointStore
from tui_rl.engine.envs import EPISODE_REWARD_KEY, action_kind, make_env

PIXELS_KEY = "pixels"
POLICY_KEY = "policy"
#: frames are stored at most this wide (area-averaged): wider than any terminal pane draws them,
#: and small enough that a long episode of frames fits in memory (CartPole: 150x100, 45 kB a step)
MAX_FRAME_WIDTH = 160
#: what a policy writes that is worth showing beside a step, in this order
POLICY_OUTPUT_KEYS = ("action_value", "logits", "probs", "loc", "scale", "action")


class ActionError(ValueError):
    """An action the env cannot take; the message says what it accepts."""


class WeightsError(ValueError):
    """Weights that do not fit the policy built from the config."""


def downscale_frame(frame: np.ndarray, max_width: int = MAX_FRAME_WIDTH) -> np.ndarray:
    """``frame`` (H x W x 3, uint8) shrunk by a whole factor to at most ``max_width``, averaging
    each block of pixels so thin lines (a pole, a track) do not vanish."""
    factor = math.ceil(frame.shape[1] / max_width)
    if factor <= 1:
        return np.ascontiguousarray(frame)
    height, width = frame.shape[0] // factor * factor, frame.shape[1] // factor * factor
    # one strided view per offset in the block: a few fast adds instead of a slow axis reduction
    total = np.zeros((height // factor, width // factor, frame.shape[2]), np.uint32)
    for row in range(factor):
        for col in range(factor):
            total += frame[row:height:factor, col:width:factor]
    return ((total + factor * factor // 2) // (factor * factor)).astype(np.uint8)


def gym_env_of(env: EnvBase) -> Any:
    """The Gymnasium env under TorchRL's wrapper and transforms."""
    return env.base_env._env


def can_render(env: EnvBase) -> bool:
    return "rgb_array" in gym_env_of(env).metadata.get("render_modes", [])


def make_render_env(config: RunConfig, max_width: int = MAX_FRAME_WIDTH) -> EnvBase:
    """The run's env (one copy) that also writes its rendered frame under ``pixels``, when it can."""
    # pygame, which renders the classic-control envs, complains about a missing display straight
    # to file descriptor 2, which would scribble over the app's screen; rgb_array needs no display.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    env = make_env(config, num_envs=1, render=True)
    if can_render(env):
        preproc = functools.partial(downscale_frame, max_width=max_width)
        env.append_transform(PixelRenderTransform(out_keys=[PIXELS_KEY], preproc=preproc))
    return env


def exploration(config: RunConfig) -> ExplorationType:
    return ExplorationType.DETERMINISTIC if config.eval.deterministic else ExplorationType.RANDOM


def policy_outputs(policy: Any, td: TensorDictBase, exploration_type: ExplorationType) -> TensorDictBase:
    """What ``policy`` makes of the observations in ``td`` (any batch size), as a TensorDict of
    :data:`POLICY_OUTPUT_KEYS`; ``td`` itself is left as it was."""
    missing = [key for key in policy.in_keys if key not in td.keys(include_nested=True)]
    if missing:
        raise WeightsError(f"the rollout has no {', '.join(map(str, missing))} for the policy to read")
    inputs = td.select(*policy.in_keys).clone()
    with torch.no_grad(), set_exploration_type(exploration_type):
        out = policy(inputs)
    if "logits" in out.keys():
        out.set("probs", out.get("logits").softmax(-1))
    return out.select(*[key for key in POLICY_OUTPUT_KEYS if key in out.keys()])


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


def load_checkpoint(algorithm: Algorithm, run_dir: Path) -> int | None:
    """Load the newest checkpoint of ``run_dir`` into ``algorithm``; its frame count, or None if
    the run has none yet."""
    store = CheckpointStore(Path(run_dir), keep=1)
    latest = store.latest()
    if latest is None:
        return None
    try:
        metadata = store.load(latest, {"algorithm": algorithm})
    except (RuntimeError, KeyError) as exc:  # a network of another shape, or a foreign checkpoint
        raise WeightsError(f"the checkpoint {latest} does not fit the {algorithm.name} policy built from this config ({str(exc).splitlines()[0]})") from None
    return int(metadata.get("frames", latest.name))


Weights = Mapping[str, Any] | Path | None


def apply_weights(algorithm: Algorithm, weights: Weights) -> str:
    """Load ``weights`` (a state dict, a run folder whose newest checkpoint to load, or None: keep
    the untrained ones) into the algorithm; returns a few words saying where they came from."""
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
    """The config's algorithm for ``env`` with ``weights`` (see :func:`apply_weights`)."""
    ensure_resource_tracker()
    algorithm = build_algorithm(config, env, "cpu")
    return algorithm, apply_weights(algorithm, weights)


def annotate_policy_outputs(rollout: TensorDictBase, config: RunConfig, weights: Weights) -> TensorDictBase:
    """``rollout`` with the policy's outputs for every step under ``policy`` (for rollouts that come
    from the trainer or from disk); returns a new TensorDict."""
    env = make_env(config, num_envs=1)
    try:
        algorithm, _ = build_policy(config, env, weights)
    finally:
        env.close()
    annotated = rollout.clone(False)
    annotated.set(POLICY_KEY, policy_outputs(algorithm.eval_policy, rollout, exploration(config)))
    return annotated


class GrowingRollout:
    """Steps appended one at a time into a buffer that doubles when full: each step costs O(1),
    and :attr:`view` (the first ``len`` steps) is a slice, not a copy."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.buffer: TensorDictBase | None = None
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def append(self, step: TensorDictBase) -> None:
        if self.buffer is None:
            self.buffer = step.expand(self.capacity).clone()
        elif self.length == self.buffer.batch_size[0]:
            self.buffer = torch.cat([self.buffer, self.buffer.clone()])
        self.buffer[self.length] = step
        self.length += 1

    @property
    def view(self) -> TensorDictBase:
        if self.buffer is None:
            return TensorDict(batch_size=[0])
        return self.buffer[: self.length]


class LiveEnvSession:
    """A live env (the config's transforms, rendering) stepped one step per call.

    Steps come from the policy (:meth:`step_policy`), from the user (:meth:`step_action`) or at
    random (:meth:`step_random`); each appends to :attr:`rollout`. After a step that ends the
    episode, the next step starts a new one, as a collector would.
    """

    def __init__(self, config: RunConfig, weights: Weights = None) -> None:
        self.config = config
        self.env = make_render_env(config)
        try:
            self.algorithm, self.weights_note = build_policy(config, self.env, weights)
        except Exception:
            self.env.close()
            raise
        self.policy = self.algorithm.eval_policy
        self.exploration = exploration(config)
        self.kind = action_kind(self.env)
        self.steps = GrowingRollout()
        self.episodes = 0
        self.reset()

    # ---- what the UI asks about -----------------------------------------------------------------

    @property
    def rollout(self) -> TensorDictBase:
        """Every step so far, batch size [T]."""
        return self.steps.view

    @property
    def action_count(self) -> int | None:
        """Number of discrete actions (None for continuous ones)."""
        return self.env.action_spec.space.n if self.kind == "discrete" else None

    def describe_actions(self) -> str:
        spec = self.env.action_spec
        if self.kind == "discrete":
            return f"one of 0..{spec.space.n - 1}"
        low, high = spec.space.low.flatten(), spec.space.high.flatten()
        bounds = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(low.tolist(), high.tolist()))
        return f"{spec.shape.numel()} value(s) in {bounds}"

    # ---- stepping -------------------------------------------------------------------------------

    def load_weights(self, weights: Weights) -> None:
        """Swap in fresher weights; the steps taken so far keep the outputs they had."""
        self.weights_note = apply_weights(self.algorithm, weights)

    def reset(self) -> None:
        """Start a new episode (the steps so far stay in the rollout)."""
        self.current = self.env.reset()
        self.episodes += 1
        self.needs_reset = False

    def step_policy(self) -> TensorDictBase:
        return self.step_with(None)

    def step_random(self) -> TensorDictBase:
        return self.step_with(self.env.action_spec.rand())

    def step_action(self, action: int | float | str | Sequence[float]) -> TensorDictBase:
        """Take ``action``: a discrete index, or the values of a continuous action (numbers or a
        string such as ``"0.5, -1"``). ActionError says what the env accepts otherwise."""
        return self.step_with(self.parse_action(action))

    def run_episode(self, max_steps: int = 10_000) -> TensorDictBase:
        """Let the policy play one whole episode from a fresh reset; returns the rollout."""
        if len(self.steps):
            self.reset()
        for _ in range(max_steps):
            self.step_policy()
            if self.needs_reset:
                break
        return self.rollout

    def step_with(self, action: torch.Tensor | None) -> TensorDictBase:
        """One step with ``action`` (None: the policy's); returns the recorded step."""
        if self.needs_reset:
            self.reset()
        td = self.current.clone(False)
        outputs = policy_outputs(self.policy, td, self.exploration)
        td.set(POLICY_KEY, outputs)
        td.set("action", outputs.get("action") if action is None else action)
        td = self.env.step(td)
        # the frame after the step is the next step's root frame; kept once, not twice
        self.steps.append(td.exclude(("next", PIXELS_KEY)))
        self.current = step_mdp(td, keep_other=False)
        self.needs_reset = bool(td.get(("next", "done")).any())
        return self.steps.view[-1]

    def parse_action(self, action: int | float | str | Sequence[float]) -> torch.Tensor:
        spec = self.env.action_spec
        env_id = self.config.env.id
        values = split_numbers(action) if isinstance(action, str) else action
        if self.kind == "discrete":
            count = spec.space.n
            if isinstance(values, Sequence) and len(values) == 1:
                values = values[0]
            if isinstance(values, bool) or not isinstance(values, (int, float)) or values != int(values) or not 0 <= values < count:
                raise ActionError(f"action: {action!r} is not an action of {env_id}; choose one of 0..{count - 1}")
            return torch.tensor(int(values), dtype=spec.dtype).reshape(spec.shape)
        values = [values] if isinstance(values, (int, float)) else list(values)
        size = spec.shape.numel()
        if len(values) != size:
            raise ActionError(f"action: {env_id} takes {size} value(s) ({self.describe_actions()}); got {len(values)}")
        tensor = torch.tensor(values, dtype=spec.dtype).reshape(spec.shape)
        if not spec.is_in(tensor):
            raise ActionError(f"action: {values} is out of bounds for {env_id}; give {self.describe_actions()}")
        return tensor

    def close(self) -> None:
        if not self.env.is_closed:
            self.env.close()


def split_numbers(text: str) -> list[float]:
    """``"0.5, -1"`` -> ``[0.5, -1.0]``; ActionError naming the first word that is not a number."""
    words = [word for word in re.split(r"[,\s]+", text.strip()) if word]
    if not words:
        raise ActionError("action: type a number (or several, separated by commas)")
    numbers = []
    for word in words:
        try:
            numbers.append(float(word))
        except ValueError:
            raise ActionError(f"action: {word!r} is not a number") from None
    return numbers


# ---- rollouts and weights from a run ------------------------------------------------------------


class SourceError(ValueError):
    """A rollout source that has nothing to give; the message says why and what to do."""


def run_weights(run_dir: Path | None, timeout: float = 30.0) -> Weights:
    """The freshest policy weights of a run: the live trainer's (GetWeights, answered between two
    batches without pausing), else the run folder itself (its newest checkpoint); None without a run."""
    from tui_rl.engine.handle import RunHandle, RunNotLive

    if run_dir is None:
        return None
    with RunHandle.attach(run_dir) as handle:
        if handle.is_live:
            try:
                return handle.weights(timeout)
            except (RunNotLive, TimeoutError):
                pass  # the trainer went away meanwhile: its checkpoint is the next best
    return Path(run_dir)


def trainer_rollout(run_dir: Path | None, source: str, timeout: float = 60.0) -> TensorDictBase:
    """A rollout from the run's live trainer: its ``latest`` episode or a ``replay`` sample."""
    from tui_rl.engine.handle import RunHandle, RunNotLive

    if run_dir is None:
        raise SourceError("no run: start one (s) or attach one in Runs (3) to see its rollouts")
    with RunHandle.attach(run_dir) as handle:
        if not handle.is_live:
            raise SourceError(f"run {Path(run_dir).name} has no trainer running; open a saved rollout instead")
        try:
            rollout = handle.snapshot(source, timeout)
        except (RunNotLive, TimeoutError) as exc:
            raise SourceError(str(exc)) from None
    if rollout is None:
        what = "finished episode" if source == "latest" else "replay buffer to sample"
        raise SourceError(f"the trainer has no {what} yet; try again in a moment")
    return as_steps(rollout)


def episode_return(rollout: TensorDictBase) -> float:
    """The return of the episode a rollout ends with: the env's own (RewardSum's ``episode_reward``,
    before any reward transform), else the sum of the rewards."""
    running = rollout.get(("next", EPISODE_REWARD_KEY), None)
    if running is not None:
        return float(running[-1].sum())
    return float(rollout.get(("next", "reward")).sum())


def as_steps(rollout: TensorDictBase) -> TensorDictBase:
    """``rollout`` with one batch dimension, the steps (copies of a vector env one after another)."""
    if rollout.ndim == 0:
        return rollout.unsqueeze(0)
    return rollout.reshape(-1) if rollout.ndim > 1 else rollout


def live_session_for(config: RunConfig, run_dir: Path | None) -> LiveEnvSession:
    """A live env with ``config`` (the setup's) and the run's freshest weights. When those do not
    fit (the setup's network changed since the run started), the run's own config is used."""
    from tui_rl.engine.runfolder import read_config

    weights = run_weights(run_dir)
    try:
        return LiveEnvSession(config, weights)
    except WeightsError:
        if run_dir is None:
            raise
    session = LiveEnvSession(read_config(run_dir), weights)
    session.weights_note += " (with the run's config: the setup's network differs)"
    return session


def load_source(kind: str, config: RunConfig, run_dir: Path | None, path: Path | None = None) -> tuple[TensorDictBase, str]:
    """A rollout to inspect and a line describing it. ``kind``: ``latest`` (the trainer's latest
    episode) or ``replay`` (a replay buffer sample), both with the policy's outputs added;
    ``eval`` (an episode of the current policy played here, with frames); ``saved`` (``path``)."""
    from tui_rl.engine.rollouts import load_rollout
    from tui_rl.engine.runfolder import read_config

    if kind == "saved":
        rollout = as_steps(load_rollout(path))
        return rollout, f"saved rollout {path.name}"
    run_config = read_config(run_dir) if run_dir is not None else config
    if kind == "eval":
        session = live_session_for(run_config, run_dir)
        try:
            rollout = session.run_episode()
        finally:
            session.close()
        return rollout, f"evaluation episode, return {episode_return(rollout):g} ({session.weights_note})"
    if kind not in ("latest", "replay"):
        raise SourceError(f"unknown rollout source {kind!r}")
    rollout = trainer_rollout(run_dir, kind)
    description = "latest episode from the trainer" if kind == "latest" else "replay buffer sample"
    try:
        rollout = annotate_policy_outputs(rollout, run_config, run_weights(run_dir))
    except WeightsError as exc:
        return rollout, f"{description} (no policy outputs: {exc})"
    return rollout, description
