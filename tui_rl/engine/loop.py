"""The one training loop, for headless runs and app runs alike.

A :class:`Trainer` builds the env, the algorithm and a TorchRL Collector from the config, then per
batch: collect, update, log, evaluate every ``eval.every_frames``, checkpoint every
``checkpoint.every_frames``. Between batches it applies the commands waiting in its queue. Every
change of state goes out as a protocol event through ``on_event`` (the control server broadcasts
them; the CLI draws a progress bar from them) and the logged ones go to the run folder too.

Anything that goes wrong (the env raises, a loss turns NaN) ends the run in state ``failed`` with a
reason a user can act on; the traceback goes to the trainer log only.
"""

from __future__ import annotations

import math
import os
import queue
import random
import shutil
import socket
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tensordict import TensorDictBase
from torchrl.checkpoint import GlobalRNGState
from torchrl.collectors import Collector, Evaluator
from torchrl.envs import ExplorationType, set_exploration_type

from tui_rl.config import ConfigError, RunConfig, edit, live_fields
from tui_rl.engine.checkpoint import CheckpointStore
from tui_rl.engine.metric_loggers import MetricLoggers
from tui_rl.engine.protocol import (
    LOGGED_EVENTS,
    CheckpointNow,
    Checkpointed,
    Command,
    Evaluated,
    Event,
    GetWeights,
    HparamsChanged,
    HparamsRejected,
    Log,
    Metrics,
    Pause,
    Resume,
    RolloutReady,
    RunState,
    SetHparams,
    SnapshotRollout,
    StatusChanged,
    StepBatch,
    Stop,
    WeightsReady,
)
from tui_rl.engine.runfolder import (
    LOG_FILE,
    RunSummary,
    append_event,
    read_events,
    read_summary,
    save_config,
    trim_metrics,
    write_run_json,
)

#: how often run.json is refreshed with the frame count while training
SUMMARY_INTERVAL_S = 2.0
#: longest episode kept for snapshots / run by an evaluation snapshot
MAX_EPISODE_STEPS = 10_000
#: steps the evaluation collector takes between checks for finished episodes
EVAL_POLL_FRAMES = 100
#: a replay buffer goes into checkpoints only below this size (and a quarter of the free disk)
MAX_REPLAY_CHECKPOINT_BYTES = 2 * 1024**3

Reply = Callable[[Event], None]


class TrainingFailed(Exception):
    """Ends the run in state ``failed``; the message is the reason shown to the user."""


class Trainer:
    """Trains one run folder's config; ``run()`` returns the final state.

    ``train_seconds`` counts collection and updates only (not evaluation, checkpoints or pauses);
    ``solved_frames`` / ``solved_train_seconds`` are set when an evaluation first reaches
    ``eval.target_return``.
    """

    def __init__(
        self,
        config: RunConfig,
        run_dir: Path,
        on_event: Callable[[Event], None] | None = None,
        *,
        resume: bool = False,
        commands: queue.Queue | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.on_event = on_event
        self.resume = resume
        self.commands: queue.Queue[tuple[Command, Reply | None]] = commands or queue.Queue()
        self.state: RunState = "starting"
        self.reason = ""
        #: the run failed because its config cannot be built (env, algorithm, logging, device)
        self.config_error = False
        self.frames = 0
        self.episodes = 0
        self.train_seconds = 0.0
        self.best_eval: float | None = None
        self.last_eval: float | None = None
        self.solved_frames: int | None = None
        self.solved_train_seconds: float | None = None
        self.summary: RunSummary = read_summary(self.run_dir)
        self.seq = max((e.seq for e in read_events(self.run_dir)), default=0)
        self.store = CheckpointStore(self.run_dir, config.checkpoint.keep)
        self.latest_episode = LatestEpisode()
        self._summary_written = 0.0
        self._pending_batches = 0
        self._stop_reason = ""
        self._checkpoint_requested = False
        self._last_eval_frames = 0
        self._last_checkpoint_frames = 0

    # ---- public ---------------------------------------------------------------------------------

    def submit(self, command: Command, reply: Reply | None = None) -> None:
        """Queue a command (thread-safe); answers go to ``reply``, or to ``on_event`` without one."""
        self.commands.put((command, reply))

    def run(self) -> RunState:
        torch.set_num_threads(1)
        try:
            self.setup()
            self.train()
        except ConfigError as exc:
            self.config_error = True
            self.fail(str(exc))
        except TrainingFailed as exc:
            self.fail(str(exc))
        except KeyboardInterrupt:  # a second Ctrl-C: no waiting for the batch or a checkpoint
            self.set_state("stopped", "interrupted; it resumes from its last checkpoint")
            raise
        except Exception as exc:  # anything else is a bug or an odd env: a reason, not a traceback
            self.log_traceback()
            self.fail(f"{type(exc).__name__}: {exc} (details in {self.run_dir / LOG_FILE})")
        finally:
            self.close()
        return self.state

    # ---- setup ----------------------------------------------------------------------------------

    def setup(self) -> None:
        from tui_rl.engine.algorithms import build_algorithm
        from tui_rl.engine.envs import make_env

        config = self.config
        self.seed_everything(config.env.seed)
        self.device = resolve_device(config.device)
        self.loggers = MetricLoggers(self.run_dir, config.logging)
        self.env = make_env(config)
        self.eval_env = make_env(config)
        self.algorithm = build_algorithm(config, self.env, self.device)
        self.collector = Collector(
            self.env,
            self.algorithm.collector_policy,
            frames_per_batch=config.collector.frames_per_batch,
            total_frames=-1,  # the loop keeps the budget: it can change on resume
            init_random_frames=0 if config.algorithm.on_policy else config.collector.init_random_frames,
            policy_device=self.device,
            storing_device=self.device,
            env_device="cpu",
            # MLP policies need no InitTracker / primers; appending them would make the training
            # env's transforms differ from the evaluation env's.
            auto_register_policy_transforms=False,
        )
        self.batches = iter(self.collector)
        self.evaluator = Evaluator(
            self.eval_env,
            self.algorithm.eval_policy,
            num_trajectories=config.eval.episodes,
            exploration_type=self.eval_exploration(),
            frames_per_batch=-(-EVAL_POLL_FRAMES // config.env.num_envs) * config.env.num_envs,
            collector_kwargs={"traj_format": "cat", "auto_register_policy_transforms": False},
            dump_video=False,
        )
        self.store.clean_partial()
        if self.resume:
            self.restore()
        self.set_state("running")

    def restore(self) -> None:
        latest = self.store.latest()
        if latest is None:
            trim_metrics(self.run_dir, 0)
            self.log("no checkpoint to resume from: starting from frame 0", "warning")
            return
        metadata = self.store.load(latest, self.checkpoint_components(with_replay=True))
        self.frames = int(metadata["frames"])
        self.episodes = int(metadata.get("episodes", 0))
        self.train_seconds = float(metadata.get("train_seconds", 0.0))
        self.best_eval = metadata.get("best_eval")
        self.last_eval = metadata.get("last_eval")
        self.solved_frames = metadata.get("solved_frames")
        self.solved_train_seconds = metadata.get("solved_train_seconds")
        self._last_eval_frames = self._last_checkpoint_frames = self.frames
        trim_metrics(self.run_dir, self.frames)
        self.log(f"resumed from the checkpoint at {self.frames} frames")

    def seed_everything(self, seed: int) -> None:
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)

    def eval_exploration(self) -> ExplorationType:
        return ExplorationType.DETERMINISTIC if self.config.eval.deterministic else ExplorationType.RANDOM

    # ---- the loop -------------------------------------------------------------------------------

    def train(self) -> None:
        while True:
            self.apply_commands(block=self.state == "paused" and not self._pending_batches)
            if self._stop_reason:
                self.checkpoint()
                self.set_state("stopped", self._stop_reason)
                return
            if self._checkpoint_requested:
                self._checkpoint_requested = False
                self.checkpoint(announce_existing=True)
            if self.state == "paused" and not self._pending_batches:
                continue
            if self.frames >= self.config.collector.total_frames:
                self.finish(f"trained the whole budget of {self.config.collector.total_frames} frames")
                return
            self.train_one_batch()
            if self._pending_batches:
                self._pending_batches -= 1
            if self.due(self.config.eval.every_frames, self._last_eval_frames):
                if self.evaluate():
                    return
            if self.due(self.config.checkpoint.every_frames, self._last_checkpoint_frames):
                self.checkpoint()

    def due(self, every: int, last: int) -> bool:
        return self.frames // every > last // every

    def train_one_batch(self) -> None:
        started = time.perf_counter()
        try:
            batch = next(self.batches)
        except Exception as exc:
            self.log_traceback()
            raise TrainingFailed(
                f"collecting from {self.config.env.id} failed: {type(exc).__name__}: {exc}"
            ) from None
        self.frames += batch.numel()
        check_rewards(batch, self.frames)
        try:
            values = self.algorithm.update(batch, self.frames)
        except Exception as exc:
            self.log_traceback()
            raise TrainingFailed(f"the {self.config.algorithm.name} update failed: {type(exc).__name__}: {exc}") from None
        elapsed = time.perf_counter() - started
        self.train_seconds += elapsed
        check_losses(values, self.frames, self.config)
        values.update(self.episode_metrics(batch))
        values["fps"] = batch.numel() / max(elapsed, 1e-9)
        values["lr"] = self.current_lr()
        self.latest_episode.add(batch)
        self.log_metrics(values)

    def episode_metrics(self, batch: TensorDictBase) -> dict[str, float]:
        done = batch.get(("next", "done")).squeeze(-1)
        ended = int(done.sum())
        if not ended:
            return {}
        self.episodes += ended
        found = {}
        for name, key in (("episode_return", "episode_reward"), ("episode_length", "step_count")):
            value = batch.get(("next", key), None)
            if value is not None:
                found[name] = value.squeeze(-1)[done].float().mean().item()
        return found

    def current_lr(self) -> float:
        for optimizer in self.algorithm.optimizers().values():
            return float(optimizer.param_groups[0]["lr"])
        return math.nan

    def finish(self, reason: str) -> None:
        if self._last_eval_frames != self.frames:
            self.evaluate(final=True)
        self.checkpoint()
        self.set_state("finished", reason)

    # ---- evaluation -----------------------------------------------------------------------------

    def evaluate(self, final: bool = False) -> bool:
        """Run ``eval.episodes`` episodes; True when the run reached its target and finished."""
        self._last_eval_frames = self.frames
        self.sync_eval_env()
        result = self.evaluator.evaluate(step=self.frames)
        mean = float(result["eval/reward"])
        std = float(result.get("eval/reward_std", 0.0))
        if not math.isfinite(std):
            std = 0.0
        self.last_eval = mean
        self.best_eval = mean if self.best_eval is None else max(self.best_eval, mean)
        self.emit(
            Evaluated(
                mean_return=mean,
                std_return=std,
                episodes=int(result.get("eval/num_episodes", self.config.eval.episodes)),
                mean_length=float(result.get("eval/episode_length", 0.0)),
            )
        )
        self.loggers.log({"eval_return": mean}, self.frames)
        target = self.config.eval.target_return
        reached = target is not None and mean >= target
        if reached and self.solved_frames is None:
            self.solved_frames = self.frames
            self.solved_train_seconds = self.train_seconds
        if not reached or final:
            return False
        self.checkpoint()
        self.set_state("finished", f"evaluation return {mean:.1f} reached the target {target:g}")
        return True

    def sync_eval_env(self) -> None:
        """Give the evaluation env the training env's transform state (ObservationNorm, VecNorm)."""
        self.eval_env.transform.load_state_dict(self.env.transform.state_dict())

    def eval_episode(self) -> TensorDictBase:
        self.sync_eval_env()
        with set_exploration_type(self.eval_exploration()), torch.no_grad():
            rollout = self.eval_env.rollout(
                MAX_EPISODE_STEPS, self.algorithm.eval_policy, break_when_any_done=True
            )
        if rollout.ndim > 1:  # copies of a vector env: the one that finished
            done = rollout.get(("next", "done")).squeeze(-1)
            rollout = rollout[int(done.any(-1).float().argmax())]
        return rollout

    # ---- commands -------------------------------------------------------------------------------

    def apply_commands(self, block: bool) -> None:
        while True:
            try:
                command, reply = self.commands.get(timeout=1.0) if block else self.commands.get_nowait()
            except queue.Empty:
                return
            self.apply(command, reply)
            block = False

    def apply(self, command: Command, reply: Reply | None) -> None:
        def answer(event: Event) -> None:
            if reply is None:
                self.emit(event)
            else:
                reply(self.stamp(event))

        match command:
            case Pause():
                if self.state == "running":
                    self.set_state("paused")
            case Resume():
                self._pending_batches = 0
                if self.state == "paused":
                    self.set_state("running")
            case StepBatch():
                if self.state == "paused":
                    self._pending_batches += 1
            case Stop():
                self._stop_reason = self._stop_reason or "stopped by request"
            case CheckpointNow():
                self._checkpoint_requested = True
            case SetHparams(values=values):
                self.set_hparams(values)
            case SnapshotRollout(source=source, request_id=request_id):
                answer(RolloutReady(source, self.snapshot(source), request_id=request_id))
            case GetWeights(request_id=request_id):
                weights = {k: v.detach().cpu() for k, v in self.algorithm.eval_policy.state_dict().items()}
                answer(WeightsReady(weights, request_id=request_id))
            case _:
                self.log(f"unknown command {type(command).__name__} ignored", "warning")

    def stop(self, reason: str) -> None:
        """Ask the loop to checkpoint and stop after the current batch, saying why (thread-safe)."""
        self._stop_reason = reason
        self.submit(Stop())

    @property
    def stopping(self) -> bool:
        return bool(self._stop_reason)

    def set_hparams(self, values: dict[str, Any]) -> None:
        previous_config = self.config
        try:
            new_config = edit(previous_config, values, live_only=True, source="set_hparams")
            self.algorithm.apply_hparams(new_config)
        except Exception as exc:
            self.algorithm.apply_hparams(previous_config)
            self.emit(HparamsRejected(values, str(exc)))
            return
        before, after = live_fields(previous_config), live_fields(new_config)
        self.config = self.algorithm.config = new_config
        self.store.keep = new_config.checkpoint.keep
        save_config(self.run_dir, new_config)
        self.emit(
            HparamsChanged(
                changes={key: after[key] for key in values},
                previous={key: before[key] for key in values},
            )
        )

    def snapshot(self, source: str) -> TensorDictBase | None:
        if source == "eval":
            return self.eval_episode().cpu()
        if source == "replay":
            buffer = self.algorithm.replay_buffer
            if buffer is None or len(buffer) == 0:
                self.log(f"no replay buffer to sample from ({self.config.algorithm.name})", "warning")
                return None
            return buffer.sample().cpu()
        episode = self.latest_episode.episode
        return None if episode is None else episode.cpu()

    # ---- checkpoints ----------------------------------------------------------------------------

    def checkpoint_components(self, with_replay: bool) -> dict[str, Any]:
        components: dict[str, Any] = {
            "algorithm": self.algorithm,
            "collector": self.collector,
            "rng": GlobalRNGState(),
            "loggers": self.loggers,
        }
        buffer = self.algorithm.replay_buffer
        if with_replay and buffer is not None:
            components["replay_buffer"] = buffer
        return components

    def checkpoint(self, announce_existing: bool = False) -> None:
        """Write a checkpoint, unless the newest one is already at this frame count (nothing has
        trained since): then only ``announce_existing`` (an explicit request) says where it is."""
        latest = self.store.latest()
        if latest is not None and latest.name == str(self.frames):
            if announce_existing:
                self.emit(Checkpointed(str(latest)))
            return
        with_replay = self.config.checkpoint.replay_buffer and self.replay_buffer_fits()
        metadata = {
            "frames": self.frames,
            "episodes": self.episodes,
            "train_seconds": self.train_seconds,
            "best_eval": self.best_eval,
            "last_eval": self.last_eval,
            "solved_frames": self.solved_frames,
            "solved_train_seconds": self.solved_train_seconds,
        }
        path = self.store.save(self.frames, self.checkpoint_components(with_replay), metadata)
        self._last_checkpoint_frames = self.frames
        self.emit(Checkpointed(str(path)))

    def replay_buffer_fits(self) -> bool:
        buffer = self.algorithm.replay_buffer
        if buffer is None:
            return False
        size = storage_bytes(buffer)
        limit = min(MAX_REPLAY_CHECKPOINT_BYTES, shutil.disk_usage(self.run_dir).free // 4)
        if size is not None and size > limit:
            self.log(
                f"replay buffer ({size / 1024**2:.0f} MiB) left out of the checkpoint: "
                f"over the {limit / 1024**2:.0f} MiB limit",
                "warning",
            )
            return False
        return True

    # ---- events ---------------------------------------------------------------------------------

    def stamp(self, event: Event) -> Event:
        self.seq += 1
        event.seq = self.seq
        event.frames = self.frames
        event.time = time.time()
        return event

    def emit(self, event: Event) -> None:
        self.stamp(event)
        if isinstance(event, LOGGED_EVENTS):
            append_event(self.run_dir, event)
        if isinstance(event, (StatusChanged, Evaluated, Checkpointed)):
            self.write_summary()
        if self.on_event is not None:
            self.on_event(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message, level))

    def log_metrics(self, values: dict[str, float]) -> None:
        self.loggers.log(values, self.frames)
        self.emit(Metrics(values))
        if time.monotonic() - self._summary_written > SUMMARY_INTERVAL_S:
            self.write_summary()

    def set_state(self, state: RunState, reason: str = "") -> None:
        self.state = state
        self.reason = reason
        self.emit(StatusChanged(state, reason, total_frames=self.config.collector.total_frames))

    def fail(self, reason: str) -> None:
        self.append_to_log(f"run failed: {reason}\n")
        self.set_state("failed", reason)

    def log_traceback(self) -> None:
        """The current exception's traceback, for the trainer log only (users see the reason)."""
        self.append_to_log(traceback.format_exc())

    def append_to_log(self, text: str) -> None:
        with open(self.run_dir / LOG_FILE, "a") as log:
            log.write(text)

    def write_summary(self) -> None:
        summary = self.summary
        summary.status = self.state
        summary.reason = self.reason
        summary.frames = self.frames
        summary.total_frames = self.config.collector.total_frames
        summary.best_eval = self.best_eval
        summary.last_eval = self.last_eval
        summary.episodes = self.episodes
        summary.train_seconds = self.train_seconds
        summary.pid = os.getpid()
        summary.host = socket.gethostname()
        summary.updated = time.time()
        write_run_json(self.run_dir, summary)
        self._summary_written = time.monotonic()

    def close(self) -> None:
        for name in ("evaluator", "collector"):
            part = getattr(self, name, None)
            if part is not None:
                try:
                    part.shutdown()
                except Exception:
                    self.log_traceback()
        for name in ("env", "eval_env"):
            env = getattr(self, name, None)
            if env is not None and not env.is_closed:
                env.close()
        loggers = getattr(self, "loggers", None)
        if loggers is not None:
            loggers.close()
        self.write_summary()


class LatestEpisode:
    """The last complete episode of the first env copy, for snapshots.

    Batches are kept as slices and joined only when a snapshot asks, so following episodes across
    batches costs next to nothing per batch. At most about ``MAX_EPISODE_STEPS`` steps are kept.
    """

    def __init__(self) -> None:
        self.episode_parts: list[TensorDictBase] = []
        self.partial: list[TensorDictBase] = []

    def add(self, batch: TensorDictBase) -> None:
        # Copy env 0's slice of a vector env's batch, so the other copies' data can be freed.
        steps = batch[0].clone() if batch.ndim > 1 else batch
        done = steps.get(("next", "done")).squeeze(-1)
        if not done.any():
            self.partial.append(steps)
            while sum(part.numel() for part in self.partial) > MAX_EPISODE_STEPS:
                self.partial.pop(0)
            return
        ends = done.nonzero().squeeze(-1).tolist()
        if len(ends) > 1:
            self.episode_parts = [steps[ends[-2] + 1 : ends[-1] + 1]]
        else:
            self.episode_parts = [*self.partial, steps[: ends[-1] + 1]]
        rest = steps[ends[-1] + 1 :]
        self.partial = [rest] if rest.numel() else []

    @property
    def episode(self) -> TensorDictBase | None:
        return torch.cat(self.episode_parts) if self.episode_parts else None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for, but torch sees no CUDA device; use cpu or auto")
    return torch.device(name)


def check_rewards(batch: TensorDictBase, frames: int) -> None:
    reward = batch.get(("next", "reward"))
    if not torch.isfinite(reward).all():
        bad = reward[~torch.isfinite(reward)].flatten()[0].item()
        raise TrainingFailed(f"the env returned a reward of {bad} (by frame {frames}); stopped before training on it")


def check_losses(values: dict[str, float], frames: int, config: RunConfig) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise TrainingFailed(
                f"{name} became {value} at frame {frames} (optim.lr={config.optim.lr:g}); the run "
                "stopped without saving this state (earlier checkpoints are intact). "
                "A lower optim.lr or optim.max_grad_norm usually helps."
            )


def storage_bytes(buffer: Any) -> int | None:
    data = getattr(getattr(buffer, "_storage", None), "_storage", None)
    size = getattr(data, "bytes", None)
    return int(size()) if callable(size) else None
