"""The one training loop, for headless runs and app runs alike.

A :class:`Trainer` builds the env, the algorithm and a TorchRL Collector from the config, then per
batch: collect, update, log, evaluate every ``eval.every_frames``, checkpoint every
``checkpoint.every_frames``. Between batches it applies the commands waiting in its queue, in the
order they arrived. Every change of state goes out as a protocol event through its
:class:`RunRecord` (the control server broadcasts them; the CLI draws a progress bar from them).

Anything that goes wrong (the env raises, a loss or a weight turns NaN) ends the run in state
``failed`` with a reason a user can act on; the traceback goes to the trainer log only.
"""

from __future__ import annotations

import queue
import random
import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import torch

from tui_rl.config import ConfigError, RunConfig, edit, live_fields
from tui_rl.config.metrics import EVAL_RETURN, FPS, LEARNING_RATE
from tui_rl.engine.run.checkpoint_policy import CheckpointPolicy
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.run.alerts import HealthWatch, nan_alert
from tui_rl.engine.run.batch_timing import BatchTimer
from tui_rl.engine.run.edit_undo import EditUndo
from tui_rl.engine.run.health import NonFinite, TrainingFailed, check_losses, check_optimizers, check_parameters, check_rewards
from tui_rl.engine.run.metric_loggers import episode_metrics, learning_rate
from tui_rl.engine.run.preflight import collector_warnings
from tui_rl.engine.protocol import (
    Alert,
    CheckpointNow,
    Command,
    Event,
    GetWeights,
    HparamsChanged,
    HparamsRejected,
    Metrics,
    Pause,
    Resume,
    RolloutReady,
    RunState,
    SetHparams,
    SnapshotRollout,
    StepBatch,
    Stop,
    UndoEdit,
    WeightsReady,
)
from tui_rl.engine.run.parts import RunParts
from tui_rl.engine.runs.folder import LOG_FILE, RunFolderError, read_summary, resume_command
from tui_rl.engine.runs.record import RunRecord, save_config, trim_metrics
from tui_rl.engine.run.snapshots import LatestEpisode, snapshot

Reply = Callable[[Event], None]


class Trainer:
    """Trains one run folder's config; ``run()`` returns the final state.

    ``from_checkpoint`` continues from the newest loadable checkpoint; without it the run starts
    at frame 0 (on an existing folder, its checkpoints and metric rows are cleared first).
    ``profile`` times each batch's parts for the time panel (``batch_timing.py``).
    """

    def __init__(
        self,
        config: RunConfig,
        run_dir: Path,
        on_event: Callable[[Event], None] | None = None,
        *,
        from_checkpoint: bool = False,
        commands: queue.Queue | None = None,
        profile: bool = True,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.from_checkpoint = from_checkpoint
        self.commands: queue.Queue[tuple[Command, Reply | None]] = commands or queue.Queue()
        # A resume starts from what the run recorded, so a failure before a checkpoint loads
        # leaves run.json's counters as they were.
        self.counters = recorded_counters(self.run_dir) if from_checkpoint else RunCounters()
        self.record = RunRecord(self.run_dir, self.counters, config.collector.total_frames, on_event)
        #: the run failed because its config cannot be built (env, algorithm, logging, device)
        self.config_error = False
        #: an evaluation reaching ``eval.target_return`` ends the run (not once it did: a resume trains on)
        self.stop_at_target = True
        self.checkpoints = CheckpointPolicy(self)
        self.latest_episode = LatestEpisode()
        self.health = HealthWatch(config.alerts)
        self.undo = EditUndo(self)
        self.timer = BatchTimer() if profile else None
        self._pending_batches = 0
        self._stop_reason = ""
        self._checkpoint_requested = False
        self._last_eval_frames = 0

    @property
    def state(self) -> RunState:
        return self.record.state

    @property
    def reason(self) -> str:
        return self.record.reason

    # ---- public ---------------------------------------------------------------------------------

    def submit(self, command: Command, reply: Reply | None = None) -> None:
        """Queue a command (thread-safe); answers go to ``reply``, or out as events without one."""
        self.commands.put((command, reply))

    def stop(self, reason: str) -> None:
        """Ask the loop to checkpoint and stop after the current batch, saying why (thread-safe)."""
        self._stop_reason = reason
        self.submit(Stop())

    @property
    def stopping(self) -> bool:
        return bool(self._stop_reason)

    def run(self) -> RunState:
        torch.set_num_threads(1)
        try:
            self.setup()
            self.train()
        except ConfigError as exc:
            self.config_error = True
            self.record.fail(str(exc))
        except TrainingFailed as exc:
            if isinstance(exc, NonFinite):
                self.record.emit(nan_alert(exc.metric, self.counters.frames, str(exc)))
            self.record.fail(str(exc))
        except KeyboardInterrupt:  # a second Ctrl-C: no waiting for the batch or a checkpoint
            self.record.set_state("stopped", "interrupted; it resumes from its last checkpoint")
            raise
        except Exception as exc:  # anything else is a bug or an odd env: a reason, not a traceback
            self.record.log_traceback()
            self.record.fail(f"{type(exc).__name__}: {exc} (details in {self.run_dir / LOG_FILE})")
        finally:
            self.close()
        return self.state

    # ---- setup ----------------------------------------------------------------------------------

    def setup(self) -> None:
        seed_everything(self.config.env.seed)
        self.parts = RunParts.build(self.config, self.run_dir)
        for warning in collector_warnings(self.config):
            self.record.log(warning, "warning")
        if self.timer is not None:
            self.timer.instrument(self.parts)
        self.batches = iter(self.parts.collector)
        self.checkpoints.store.clean_partial()
        if self.from_checkpoint:
            self.restore()
        else:
            self.start_over()
        self.record.set_state("running")

    def restore(self) -> None:
        if not self.checkpoints.restore():
            summary = self.record.summary
            if summary.fresh_networks and summary.parent_frames is not None:
                # A branch whose edits did not fit the parent's checkpoint: new networks, at its frame count.
                self.counters.copy_from(RunCounters(frames=summary.parent_frames))
                self._last_eval_frames = self.checkpoints.last_frames = summary.parent_frames
                self.record.log(f"branched from {summary.parent} at {summary.parent_frames} frames with fresh networks")
                return
            self.counters.copy_from(RunCounters())
            trim_metrics(self.run_dir, 0)
            self.record.log("no checkpoint to resume from: starting from frame 0", "warning")
            return
        frames = self.counters.frames
        self._last_eval_frames = frames
        trim_metrics(self.run_dir, frames)
        self.record.log(f"resumed from the checkpoint at {frames} frames")
        if self.counters.solved_frames is not None and frames < self.config.collector.total_frames:
            self.stop_at_target = False
            self.record.log(
                f"the target return was reached at frame {self.counters.solved_frames}: "
                f"training on to the budget of {self.config.collector.total_frames} frames"
            )

    def start_over(self) -> None:
        """Frame 0 on a folder that may hold an earlier attempt: its checkpoints and metric rows go."""
        removed = self.checkpoints.store.remove_all()
        trim_metrics(self.run_dir, 0)
        if removed:
            self.record.log(f"started over from frame 0: {removed} earlier checkpoints removed", "warning")

    # ---- the loop -------------------------------------------------------------------------------

    def train(self) -> None:
        while True:
            self.apply_commands(block=self.state == "paused" and not self._pending_batches)
            if self._stop_reason:
                self.checkpoints.save()
                self.record.set_state("stopped", self._stop_reason)
                return
            if self._checkpoint_requested:
                self._checkpoint_requested = False
                self.checkpoints.save(announce_existing=True)
            if self.state == "paused" and not self._pending_batches:
                continue
            if self.counters.frames >= self.config.collector.total_frames:
                self.finish(f"trained the whole budget of {self.config.collector.total_frames} frames")
                return
            self.train_one_batch()
            if self._pending_batches:
                self._pending_batches -= 1
            every = self.config.eval.every_frames
            if self.counters.frames // every > self._last_eval_frames // every and self.evaluate():
                return
            if self.checkpoints.due():
                self.checkpoints.save()

    def train_one_batch(self) -> None:
        started = time.perf_counter()
        try:
            batch = next(self.batches)
        except Exception as exc:
            self.record.log_traceback()
            raise TrainingFailed(
                f"collecting from {self.config.env.id} failed: {type(exc).__name__}: {exc}"
            ) from None
        collected = time.perf_counter()
        frames = self.counters.frames = self.counters.frames + batch.numel()
        check_rewards(batch, frames)
        try:
            values = self.parts.algorithm.update(batch, frames)
        except Exception as exc:
            self.record.log_traceback()
            raise TrainingFailed(f"the {self.config.algorithm.name} update failed: {type(exc).__name__}: {exc}") from None
        elapsed = time.perf_counter() - started
        self.counters.train_seconds += elapsed
        check_losses(values, frames, self.config)
        check_parameters(self.parts.algorithm.loss_module, frames)
        check_optimizers(self.parts.algorithm.optimizers(), frames)
        ended, episode_values = episode_metrics(batch)
        self.counters.episodes += ended
        values.update(episode_values)
        values[FPS.name] = batch.numel() / max(elapsed, 1e-9)
        values[LEARNING_RATE.name] = learning_rate(self.parts.algorithm.optimizers())
        values.update(self.parts.scale_stats())
        if self.timer is not None:
            values.update(self.timer.batch_done(collected - started, started + elapsed - collected, self.parts.device))
        self.latest_episode.add(batch)
        logging_started = time.perf_counter()
        self.parts.loggers.log(values, frames)
        self.record.emit(Metrics(values))
        if self.timer is not None:
            self.timer.add("logging", time.perf_counter() - logging_started)
        for alert in self.health.after_batch(values, frames):
            self.alert(alert)

    def finish(self, reason: str) -> None:
        if self._last_eval_frames != self.counters.frames:
            self.evaluate(final=True)
        self.checkpoints.save()
        self.record.set_state("finished", reason)

    # ---- evaluation -----------------------------------------------------------------------------

    def evaluate(self, final: bool = False) -> bool:
        """Run ``eval.episodes`` episodes; True when the run reached its target and finished."""
        frames = self._last_eval_frames = self.counters.frames
        started = time.perf_counter()
        evaluated = self.parts.evaluate(frames, self.config.eval.episodes)
        if self.timer is not None:
            self.timer.add("evaluation", time.perf_counter() - started)
        mean, target = evaluated.mean_return, self.config.eval.target_return
        reached = self.counters.record_eval(mean, target)  # before the event: run.json shows it
        self.record.emit(evaluated)
        self.parts.loggers.log({EVAL_RETURN.name: mean}, frames)
        for alert in self.health.after_eval(mean, self.counters, target, frames):
            self.alert(alert)
        if not reached or final or not self.stop_at_target:
            return False
        self.checkpoints.save()
        total = self.config.collector.total_frames
        self.record.set_state(
            "finished",
            f"evaluation return {mean:.1f} reached the target {target:g} at frame {frames}; "
            f"to train on to the whole budget of {total} frames: `{resume_command(self.run_dir.name)}`",
        )
        return True

    def alert(self, alert: Alert) -> None:
        """Say ``alert``; with ``alerts.pause``, pause the run first (a reached target ends it anyway)."""
        if self.config.alerts.pause and self.state == "running" and alert.kind != "target_reached":
            alert.paused = True
            self.record.set_state("paused", f"{alert.kind}: {alert.message}")
        self.record.emit(alert)

    def rewound(self, frames: int) -> None:
        """The state went back to a checkpoint at ``frames`` (an undone edit)."""
        self._last_eval_frames = self.checkpoints.last_frames = frames
        self.health = HealthWatch(self.config.alerts)

    # ---- commands -------------------------------------------------------------------------------

    def apply_commands(self, block: bool) -> None:
        """Apply every queued command in arrival order; while paused, wait (briefly) for one."""
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
                self.record.emit(event)
            else:
                reply(self.record.stamp(event))

        match command:
            case Pause():
                if self.state == "running":
                    self.record.set_state("paused")
            case Resume():
                self._pending_batches = 0
                if self.state == "paused":
                    self.record.set_state("running")
            case StepBatch():
                if self.state == "paused":
                    self._pending_batches += 1
            case Stop():
                self._stop_reason = self._stop_reason or "stopped by request"
            case CheckpointNow():
                self._checkpoint_requested = True
            case SetHparams(values=values):
                self.set_hparams(values)
            case UndoEdit():
                self.undo.undo()
            case SnapshotRollout(source=source, request_id=request_id):
                rollout = snapshot(source, self.parts, self.latest_episode, self.config, self.record.log)
                answer(RolloutReady(source, rollout, request_id=request_id))
            case GetWeights(request_id=request_id):
                weights = {k: v.detach().cpu() for k, v in self.parts.algorithm.eval_policy.state_dict().items()}
                answer(WeightsReady(weights, request_id=request_id))
            case _:
                self.record.log(f"unknown command {type(command).__name__} ignored", "warning")

    def set_hparams(self, values: dict[str, Any]) -> None:
        if not isinstance(values, dict):
            self.record.emit(HparamsRejected({}, f"set_hparams needs a {{field: value}} mapping, not {values!r}"))
            return
        try:
            previous, changes = self.apply_live(values, source="set_hparams")
        except Exception as exc:
            # keys as text: the events log is JSON, and a rejected key may be anything
            self.record.emit(HparamsRejected({str(k): v for k, v in values.items()}, str(exc)))
            return
        self.undo.before_edit(previous)
        self.record.emit(HparamsChanged(changes=changes, previous=previous))

    def apply_live(self, changes: Mapping[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Make the live ``changes`` (``{"optim.lr": 3e-4}``) part of the run's config: validated,
        taken by the algorithm at once, written to config.toml. The one way a running config
        changes (an edit and its undo alike); ``source`` names it in a ConfigError. Returns the
        changed fields' values before and after. A change refused (the config's validation or
        the algorithm) raises and leaves the run as it was."""
        previous = self.config
        config = edit(previous, changes, live_only=True, source=source)
        try:
            self.parts.algorithm.apply_hparams(config)
        except Exception:
            self.parts.algorithm.apply_hparams(previous)
            raise
        self.config = config
        save_config(self.run_dir, config)
        before, after = live_fields(previous), live_fields(config)
        return {key: before[key] for key in changes}, {key: after[key] for key in changes}

    def close(self) -> None:
        parts = getattr(self, "parts", None)
        if parts is not None:
            parts.close(on_error=self.record.log_traceback)
        self.record.write_summary()


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def recorded_counters(run_dir: Path) -> RunCounters:
    try:
        return read_summary(run_dir).counters
    except RunFolderError:
        return RunCounters()
