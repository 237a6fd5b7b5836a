"""A search worker: ask the study for a trial, train it as a normal run, tell the study.

Each trial is one run folder per seed (``<study>-t007``, or ``-t007-s1`` with several seeds),
tagged ``{"study": NAME, "trial": N}`` in its run.json, trained by the same ``serve_run`` as
``tui-rl train`` (so the app attaches to a running trial and opens a finished one). Every
evaluation of the first seed is reported to Optuna as an intermediate value, at the step
``frames // eval.every_frames``, so trials with other batch sizes still line up; when the pruner
says so (or the user asks, from the app) the trainer is stopped at that evaluation and the trial
is PRUNED. A trial's value is its final evaluation return, averaged over its seeds. A trial cut
short (its worker killed, or the search stopped) is queued again, and the retry goes on with its
runs from their last checkpoints.

Sampler and pruner follow RL Zoo's ``--optimize``: TPE (multivariate) after ``startup`` random
trials, and the median pruner, which judges no trial before ``startup`` trials ended nor before a
third of its evaluations.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import Trial, TrialState

from tui_rl.config import ConfigError, RunConfig, edit
from tui_rl.engine.search import study as search_study
from tui_rl.engine.protocol import Evaluated, Event
from tui_rl.engine.runs.record import create_run, record_tags
from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.runs.folder import PRUNED_TAG, RunFolderError, read_summary
from tui_rl.engine.search.space import ParamSpec, apply_params
from tui_rl.engine.run.stop_signals import StopSignals

#: a worker gives up after this many trials in a row failed (a space that cannot train)
MAX_FAILURES_IN_A_ROW = 3
#: how often a running trial looks for a stop or prune request
POLL_S = 1.0

Say = Callable[[str], None]


@dataclass
class SearchPlan:
    """What every worker of a study trains: the base config, the space, the budget."""

    study: str
    runs_dir: Path
    config: RunConfig
    space: list[ParamSpec]
    trials: int
    preset: str = ""
    seeds: int = 1
    startup: int = 5
    pruner: str = "median"
    seed: int | None = None

    @property
    def evaluations(self) -> int:
        return max(1, self.config.collector.total_frames // self.config.eval.every_frames)


def sampler(plan: SearchPlan) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(n_startup_trials=plan.startup, multivariate=True, seed=plan.seed)


def pruner(plan: SearchPlan) -> optuna.pruners.BasePruner:
    if plan.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=plan.startup, n_warmup_steps=plan.evaluations // 3)


@dataclass
class TrialOutcome:
    state: TrialState
    value: float | None = None
    reason: str = ""
    retry: bool = False  # stopped by a signal: its parameters are queued again


@dataclass
class Worker:
    """Runs trials of ``plan``'s study until it holds ``plan.trials`` of them (or is stopped)."""

    plan: SearchPlan
    say: Say
    signals: StopSignals = field(default_factory=lambda: StopSignals({}))

    def __post_init__(self) -> None:
        self.study = search_study.open_study(
            self.plan.runs_dir, self.plan.study, sampler=sampler(self.plan), pruner=pruner(self.plan)
        )

    def run(self) -> int:
        """Work until the budget is met; returns the number of trials this worker ran."""
        ran = failures = 0
        while not self.signals.reason and failures < MAX_FAILURES_IN_A_ROW:
            for number in search_study.fail_stale_trials(self.study):
                self.say(f"trial {number}: its worker is gone; failed, its parameters queued again as a trial "
                         "that goes on from its runs' last checkpoints")
            if search_study.stop_requested(self.study):
                self.say("the search was stopped (from the app); `tui-rl search` with --study goes on")
                break
            if search_study.counted_trials(self.study) >= self.plan.trials:
                break
            trial = self.study.ask()
            outcome = self.run_trial(trial)
            self.study.tell(trial, outcome.value, state=outcome.state)
            if outcome.retry:
                self.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            ran += 1
            failures = failures + 1 if outcome.state == TrialState.FAIL else 0
            self.say(describe(trial.number, outcome))
        if failures >= MAX_FAILURES_IN_A_ROW:
            self.say(f"{failures} trials in a row failed: stopping this worker (see their run folders)")
        return ran

    def run_trial(self, trial: Trial) -> TrialOutcome:
        trial.set_user_attr("worker", search_study.worker_id())
        try:
            config = apply_params(self.plan.config, {spec.path: spec.suggest(trial) for spec in self.plan.space})
        except ConfigError as exc:  # a combination the model refuses (each value alone was checked)
            return self.failed(trial, str(exc))
        self.say(f"trial {trial.number}: " + ", ".join(f"{k}={v}" for k, v in trial.params.items()))
        returns, frames, runs = [], 0, []
        with Heartbeat(self.study, trial) as beat:
            for index in range(self.plan.seeds):
                run_dir = self.earlier_run(trial, index)
                resumed = run_dir is not None
                if run_dir is None:
                    run_config = edit(config, {"env.seed": config.env.seed + index}, source="search seed")
                    run_dir = create_run(
                        run_config, name=run_name(self.plan.study, trial.number, index, self.plan.seeds),
                        runs_dir=self.plan.runs_dir, preset=self.plan.preset,
                        tags={"study": self.plan.study, "trial": trial.number},
                    )
                runs.append(run_dir.name)
                trial.set_user_attr("runs", runs)
                watch = TrialWatch(self.study, trial, beat, report=index == 0)
                state = "finished" if resumed and read_summary(run_dir).status == "finished" else (
                    train_run(run_dir, watch, self.signals, from_checkpoint=resumed))
                summary = read_summary(run_dir)
                frames += summary.frames
                trial.set_user_attr("frames", frames)
                if watch.pruned_reason:
                    trial.set_user_attr("pruned_at", summary.frames)
                    record_tags(run_dir, {PRUNED_TAG: summary.frames})
                    return self.ended(trial, TrialOutcome(TrialState.PRUNED, reason=watch.pruned_reason))
                if state != "finished" or summary.last_eval is None:
                    retry = state == "stopped" and bool(self.signals.reason)
                    return self.failed(trial, summary.reason or f"the run ended {state}", retry=retry)
                returns.append(summary.last_eval)
        value = sum(returns) / len(returns)
        return TrialOutcome(TrialState.COMPLETE, value) if math.isfinite(value) else self.failed(trial, "no finite return")

    def earlier_run(self, trial: Trial, index: int) -> Path | None:
        """Seed ``index``'s run of the trial this one retries (its worker killed, or the search
        stopped, mid-trial), to go on with from its last checkpoint rather than from frame 0; or
        kept as it is when it finished. None when there is none to go on with."""
        retry_of = trial.user_attrs.get("retry_of")
        if not isinstance(retry_of, int):
            return None
        run_dir = self.plan.runs_dir / run_name(self.plan.study, retry_of, index, self.plan.seeds)
        try:
            summary = read_summary(run_dir)
        except (OSError, RunFolderError):
            return None
        if summary.status == "finished" and summary.last_eval is not None:
            self.say(f"trial {trial.number}: keeps {run_dir.name}, finished by trial {retry_of}")
        elif summary.status == "stopped" and (checkpoint := CheckpointStore(run_dir, keep=1).latest()) is not None:
            self.say(f"trial {trial.number}: goes on with {run_dir.name} from its checkpoint at {int(checkpoint.name):,} frames")
        else:
            self.say(f"trial {trial.number}: trains from frame 0 ({run_dir.name} has no checkpoint to go on from)")
            return None
        record_tags(run_dir, {"trial": trial.number})  # it now counts for this trial
        return run_dir

    def failed(self, trial: Trial, reason: str, retry: bool = False) -> TrialOutcome:
        return self.ended(trial, TrialOutcome(TrialState.FAIL, reason=reason, retry=retry))

    @staticmethod
    def ended(trial: Trial, outcome: TrialOutcome) -> TrialOutcome:
        trial.set_user_attr("reason", outcome.reason)
        return outcome


def run_name(study: str, number: int, index: int, seeds: int) -> str:
    return f"{study}-t{number:03d}" + (f"-s{index}" if seeds > 1 else "")


def describe(number: int, outcome: TrialOutcome) -> str:
    if outcome.state == TrialState.COMPLETE:
        return f"trial {number}: return {outcome.value:.1f}"
    return f"trial {number}: {outcome.state.name.lower()}: {outcome.reason}"


def train_run(run_dir: Path, watch: TrialWatch, signals: StopSignals, from_checkpoint: bool = False) -> str:
    """Train one run folder in this process (as ``tui-rl train`` does, or ``train --resume``
    with ``from_checkpoint``); its final state."""
    from tui_rl.engine.run.serve import serve_run

    return serve_run(run_dir, from_checkpoint=from_checkpoint, on_event=watch.on_event, on_trainer=watch.attach,
                     stop_signals=signals)


class TrialWatch:
    """Reports a run's evaluations to its trial and stops the trainer when the trial is pruned,
    by the pruner at an evaluation or by a request seen while polling."""

    def __init__(self, study: optuna.Study, trial: Trial, beat: Heartbeat, report: bool) -> None:
        self.study, self.trial, self.report = study, trial, report
        self.trainer: Any = None
        self.pruned_reason = ""
        beat.watch = self

    def attach(self, trainer: Any) -> None:
        self.trainer = trainer

    def on_event(self, event: Event) -> None:
        if not (self.report and isinstance(event, Evaluated) and self.trainer is not None):
            return
        every = self.trainer.config.eval.every_frames
        self.trial.report(event.mean_return, event.frames // every)
        if not self.pruned_reason and self.trial.should_prune():
            self.prune(f"pruned at frame {event.frames}: return {event.mean_return:.1f} is below the median")

    def poll(self) -> None:
        if self.pruned_reason or self.trainer is None:
            return
        if search_study.stop_requested(self.study):
            self.prune("pruned: the search was stopped")
        elif search_study.prune_requested(self.study, self.trial.number):
            self.prune("pruned by hand")

    def prune(self, reason: str) -> None:
        self.pruned_reason = reason
        self.trainer.stop(reason)


class Heartbeat:
    """A thread marking the trial alive for other workers, and polling for requests."""

    def __init__(self, study: optuna.Study, trial: Trial) -> None:
        self.study, self.trial = study, trial
        self.watch: TrialWatch | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="search-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.trial.set_user_attr("alive", time.time())
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def loop(self) -> None:
        beat = time.monotonic()
        while not self.done.wait(POLL_S):
            try:
                if self.watch is not None:
                    self.watch.poll()
                if time.monotonic() - beat > search_study.HEARTBEAT_S:
                    self.trial.set_user_attr("alive", time.time())
                    beat = time.monotonic()
            except Exception as exc:  # a locked or vanished database: say so, keep training
                print(f"search: could not reach the study: {exc}", flush=True)
