"""Opening a run for the Train screen: blocking steps, run in its thread workers.

Each returns the handle and the run's history on disk, or raises :class:`OpenRefused` with a
reason a user can act on. A config the app knows cannot be built is refused before any run folder
or trainer exists.
"""

from __future__ import annotations

from pathlib import Path

from tui_rl.config import ConfigError, RunConfig
from tui_rl.engine.channel.handle import RunHandle
from tui_rl.engine.channel.warm_trainers import check_in_spare, put_back
from tui_rl.engine.protocol import FINAL_STATES
from tui_rl.engine.runs.folder import RunHistory, read_summary

#: what a run that cannot be continued is told
NOT_CONTINUABLE = "only a stopped or failed run, or one that ended early at its target, can be continued"


def can_continue(status: str, frames: int, total_frames: int) -> bool:
    """Whether a trainer may go on with the run from its last checkpoint: it was stopped or failed,
    or it finished before its budget (its evaluation reached the target; it then trains on)."""
    return status in ("stopped", "failed") or (status == "finished" and frames < total_frames)


class OpenRefused(Exception):
    """A run could not be started or opened; the message says why."""


def start(config: RunConfig, runs_dir: Path, preset: str) -> tuple[RunHandle, RunHistory]:
    """Check that ``config`` can be built, in the trainer process that will train it (the warm
    spare, or one started now: torch is never imported here), then make its run folder and hand
    it the run."""
    try:
        spare = check_in_spare(config, runs_dir)
    except ConfigError as exc:
        raise OpenRefused(f"cannot start: {exc}") from None
    except Exception as exc:  # the process could not start or answer, or a check broke: said, never raised
        raise OpenRefused(f"could not start the run: {exc}") from None
    try:
        handle = RunHandle.start(config, runs_dir=runs_dir, preset=preset, spare=spare)
    except Exception as exc:  # a folder or a process that cannot be made: said, never raised
        put_back(spare)
        raise OpenRefused(f"could not start the run: {exc}") from None
    return handle, handle.history()


def attach(run_dir: Path) -> tuple[RunHandle, RunHistory]:
    """Connect to the run's trainer if it is up, else open its record read-only."""
    try:
        handle = RunHandle.attach(run_dir)
        return handle, handle.history()
    except Exception as exc:
        raise OpenRefused(f"could not open {run_dir}: {exc}") from None


def continue_run(run_dir: Path) -> tuple[RunHandle, RunHistory]:
    """Start a trainer that goes on with a stopped, crashed or target-reached run from its last
    checkpoint."""
    try:
        summary = read_summary(run_dir)
    except Exception as exc:
        raise OpenRefused(f"could not open {run_dir}: {exc}") from None
    if not can_continue(summary.status, summary.frames, summary.total_frames):
        what = "has finished" if summary.status in FINAL_STATES else "is still running"
        raise OpenRefused(f"run {summary.name} {what}: {NOT_CONTINUABLE}")
    try:
        handle = RunHandle.continue_run(run_dir)
    except Exception as exc:
        raise OpenRefused(f"could not continue {summary.name}: {exc}") from None
    return handle, handle.history()
