"""The run record: the one writer of a run folder's ``run.json``, ``events.jsonl`` and ``trainer.log``.

The trainer keeps a :class:`RunRecord`: every event it emits is numbered and stamped here, the
logged ones are appended to the events log, and the summary in ``run.json`` is rewritten from its
state and :class:`RunCounters`. The control server records its address and a failure before any
trainer exists through :func:`record_address` and :func:`record_state`.

No torch import: the control server uses it before torch loads.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path
from typing import Callable

from tui_rl.engine.counters import RunCounters
from tui_rl.engine.protocol import LOGGED_EVENTS, Checkpointed, Evaluated, Event, Log, RunState, StatusChanged
from tui_rl.engine.runfolder import LOG_FILE, append_event, read_events, read_summary, write_run_json

#: how often run.json is refreshed with the frame count while training
SUMMARY_INTERVAL_S = 2.0
#: events after which run.json is rewritten at once
SUMMARY_EVENTS = (StatusChanged, Evaluated, Checkpointed)


class RunRecord:
    """What a trainer writes about its run: numbered events, the summary, the trainer log.

    ``counters`` is the trainer's own object (shared, not copied): the summary always shows the
    current values.
    """

    def __init__(
        self,
        run_dir: Path,
        counters: RunCounters,
        total_frames: int,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.counters = counters
        self.total_frames = total_frames
        self.on_event = on_event
        self.state: RunState = "starting"
        self.reason = ""
        self.summary = read_summary(self.run_dir)
        self.seq = max((e.seq for e in read_events(self.run_dir)), default=0)
        self._summary_written = 0.0

    def stamp(self, event: Event) -> Event:
        """Number ``event`` in the run's stream and date it (also for replies sent to one client)."""
        self.seq += 1
        event.seq = self.seq
        event.frames = self.counters.frames
        event.time = time.time()
        return event

    def emit(self, event: Event) -> None:
        self.stamp(event)
        if isinstance(event, LOGGED_EVENTS):
            append_event(self.run_dir, event)
        if isinstance(event, SUMMARY_EVENTS):
            self.write_summary()
        elif time.monotonic() - self._summary_written > SUMMARY_INTERVAL_S:
            self.write_summary()
        if self.on_event is not None:
            self.on_event(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message, level))

    def set_state(self, state: RunState, reason: str = "") -> None:
        self.state = state
        self.reason = reason
        self.emit(StatusChanged(state, reason, total_frames=self.total_frames))

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
        summary.copy_from(self.counters)
        summary.status = self.state
        summary.reason = self.reason
        summary.total_frames = self.total_frames
        summary.pid = os.getpid()
        summary.host = socket.gethostname()
        summary.updated = time.time()
        write_run_json(self.run_dir, summary)
        self._summary_written = time.monotonic()


def record_address(run_dir: Path, socket_path: Path | str, pid: int, host: str) -> None:
    """Say in run.json where the run's control socket is and which process serves it."""
    summary = read_summary(run_dir)
    summary.socket = str(socket_path)
    summary.pid = pid
    summary.host = host
    write_run_json(run_dir, summary)


def record_state(run_dir: Path, state: RunState, reason: str) -> StatusChanged:
    """Record a final state reached before a trainer was built (its config no longer loads, or a
    signal stopped it while torch was loading); returns the event, to tell the clients too."""
    summary = read_summary(run_dir)
    summary.status, summary.reason, summary.updated = state, reason, time.time()
    write_run_json(run_dir, summary)
    seq = max((e.seq for e in read_events(run_dir)), default=0) + 1
    event = StatusChanged(state, reason, seq=seq, frames=summary.frames, time=time.time())
    append_event(run_dir, event)
    return event
