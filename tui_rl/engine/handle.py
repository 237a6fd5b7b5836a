"""A client's handle on a run: start one, attach to one, send commands, iterate events.

The app and ``tui-rl attach`` use it; it imports no torch (the app imports it before its first
paint). Unpickling a RolloutReady / WeightsReady loads torch, lazily, in whichever thread
receives it.

A late client catches up in two steps: :meth:`RunHandle.history` reads everything on disk, then
:meth:`RunHandle.events` yields only what is newer (logged events by ``seq``, metrics by frame
count per metric), so nothing is shown twice or missed.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from tui_rl.config import RunConfig
from tui_rl.engine.protocol import (
    FINAL_STATES,
    LOGGED_EVENTS,
    CheckpointNow,
    Command,
    Event,
    GetWeights,
    Metrics,
    Pause,
    Resume,
    RolloutReady,
    SetHparams,
    SnapshotRollout,
    StatusChanged,
    StepBatch,
    Stop,
    WeightsReady,
)
from tui_rl.engine.server import connect
from tui_rl.engine.runfolder import (
    LOG_FILE,
    RunHistory,
    RunSummary,
    create_run,
    read_history,
    read_summary,
)

#: how long start() waits for a new trainer to open its socket (it opens it before importing torch)
START_TIMEOUT_S = 60.0


class RunNotLive(RuntimeError):
    """A command was sent to a run whose trainer is not reachable."""


class RunStartError(RuntimeError):
    """The trainer process could not be started; the message holds the end of its log."""


class RunHandle:
    """One connection to a run (or a read-only view of a run whose trainer is gone)."""

    def __init__(
        self, run_dir: Path, conn: Connection | None = None, process: subprocess.Popen | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self.name = self.run_dir.name
        self.process = process
        self._conn = conn
        self._send_lock = threading.Lock()
        self._held: deque[Event] = deque()  # events read while waiting for an answer
        self._seen_seq = 0
        self._metric_frames: dict[str, int] = {}
        self._next_request = 0

    # ---- opening --------------------------------------------------------------------------------

    @classmethod
    def start(
        cls, config: RunConfig, *, name: str | None = None, runs_dir: Path = Path("runs"), preset: str = ""
    ) -> RunHandle:
        """Make a run folder for ``config`` and start its trainer; returns once it is reachable."""
        run_dir = create_run(config, name=name, runs_dir=runs_dir, preset=preset)
        return cls.spawn(run_dir)

    @classmethod
    def resume_run(cls, run_dir: Path) -> RunHandle:
        """Start a trainer that goes on from the run's last checkpoint."""
        return cls.spawn(Path(run_dir), resume=True)

    @classmethod
    def spawn(cls, run_dir: Path, resume: bool = False) -> RunHandle:
        run_dir = Path(run_dir).resolve()
        command = [sys.executable, "-m", "tui_rl.engine.trainer_main", str(run_dir)]
        if resume:
            command.append("--resume")
        with open(run_dir / LOG_FILE, "ab") as log:
            # Its own session: a closing terminal (SIGHUP to our process group) does not reach it.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RunStartError(f"the trainer exited at once (code {process.returncode}):\n{log_tail(run_dir)}")
            conn = try_connect(run_dir, process.pid)
            if conn is not None:
                return cls(run_dir, conn, process)
            time.sleep(0.05)
        process.terminate()
        raise RunStartError(f"the trainer did not open its control socket in {START_TIMEOUT_S:.0f} s:\n{log_tail(run_dir)}")

    @classmethod
    def attach(cls, run_dir: Path) -> RunHandle:
        """Connect to the run's trainer if it is up; otherwise a read-only handle (``is_live`` False)."""
        run_dir = Path(run_dir).resolve()
        summary = read_summary(run_dir)
        conn = None
        if summary.status not in FINAL_STATES:
            conn = try_connect(run_dir, summary.pid)
        return cls(run_dir, conn)

    # ---- state ----------------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def summary(self) -> RunSummary:
        return read_summary(self.run_dir)

    def history(self) -> RunHistory:
        """Everything on disk; :meth:`events` then yields only what came after it."""
        history = read_history(self.run_dir)
        self._seen_seq = max(self._seen_seq, history.last_seq)
        for name, series in history.metrics.items():
            if series:
                self._metric_frames[name] = max(self._metric_frames.get(name, -1), series[-1][0])
        return history

    # ---- commands -------------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            raise RunNotLive(f"run {self.name} has no trainer running; it is read-only")
        try:
            with self._send_lock:
                conn.send_bytes(pickle.dumps(command, protocol=pickle.HIGHEST_PROTOCOL))
        except (OSError, ValueError) as exc:
            self._drop()
            raise RunNotLive(f"run {self.name}: the trainer went away ({exc})") from None

    def pause(self) -> None:
        self.send(Pause())

    def resume(self) -> None:
        self.send(Resume())

    def step_batch(self) -> None:
        self.send(StepBatch())

    def stop(self) -> None:
        self.send(Stop())

    def checkpoint(self) -> None:
        self.send(CheckpointNow())

    def set_hparams(self, values: dict) -> None:
        self.send(SetHparams(dict(values)))

    def request(self, command: SnapshotRollout | GetWeights, timeout: float = 60.0) -> Event:
        """Send a snapshot / weights request and wait for its answer.

        Other events read meanwhile are kept for :meth:`events`. Use one handle per thread for
        this (the inspector opens its own), not one that another thread is iterating.
        """
        self._next_request += 1
        command.request_id = self._next_request
        self.send(command)
        deadline = time.monotonic() + timeout
        while True:
            event = self._receive(max(0.0, deadline - time.monotonic()))
            if event is None:
                raise TimeoutError(f"run {self.name}: no answer to {type(command).__name__} in {timeout:.0f} s")
            if isinstance(event, (RolloutReady, WeightsReady)) and event.request_id == command.request_id:
                return event
            self._held.append(event)

    def snapshot(self, source: str = "latest", timeout: float = 60.0):
        """A rollout TensorDict (``latest`` episode, a fresh ``eval`` episode, a ``replay`` sample), or None."""
        return self.request(SnapshotRollout(source), timeout).rollout

    def weights(self, timeout: float = 60.0) -> dict:
        return self.request(GetWeights(), timeout).state_dict

    # ---- events ---------------------------------------------------------------------------------

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Live events, blocking; ends when the run ends or the connection drops.

        With ``timeout``, also ends after that many seconds without an event (call again to go
        on). Events already in :meth:`history` are skipped.
        """
        while True:
            event = self._held.popleft() if self._held else self._receive(timeout)
            if event is None:
                return
            event = self._unseen(event)
            if event is None:
                continue
            final = isinstance(event, StatusChanged) and event.state in FINAL_STATES
            if final:
                self._drop()  # the trainer hangs up too
            yield event
            if final:
                return

    def _receive(self, timeout: float | None) -> Event | None:
        conn = self._conn  # close() may run in another thread (the app quits while a worker reads)
        if conn is None or conn.closed:
            return None
        try:
            if timeout is not None and not conn.poll(timeout):
                return None
            return pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            self._drop()
            return None

    def _unseen(self, event: Event) -> Event | None:
        if isinstance(event, LOGGED_EVENTS):
            if event.seq <= self._seen_seq:
                return None
            self._seen_seq = event.seq
        elif isinstance(event, Metrics):
            fresh = {
                name: value
                for name, value in event.values.items()
                if event.frames > self._metric_frames.get(name, -1)
            }
            if not fresh:
                return None
            for name in fresh:
                self._metric_frames[name] = event.frames
            event.values = fresh
        return event

    def close(self) -> None:
        """Detach; the run goes on."""
        self._drop()
        if self.process is not None:
            self.process.poll()  # reap it if it has ended

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def __enter__(self) -> RunHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def try_connect(run_dir: Path, pid: int | None) -> Connection | None:
    """A connection to the trainer, or None when it is not (yet, or any more) listening."""
    summary = read_summary(run_dir)
    if pid is not None and summary.pid != pid:
        return None  # run.json still describes an earlier trainer of this folder
    try:
        return connect(run_dir)
    except (OSError, EOFError, ValueError):
        return None
    except Exception:  # multiprocessing.AuthenticationError: a stale key of an earlier trainer
        return None


def log_tail(run_dir: Path, lines: int = 20) -> str:
    try:
        text = (Path(run_dir) / LOG_FILE).read_text(errors="replace")
    except OSError:
        return "(no trainer log)"
    return "\n".join(text.splitlines()[-lines:])
