"""A client's handle on a run: start one, attach to one, send commands, iterate events.

The app and ``tui-rl attach`` use it; it imports no torch (the app imports it before its first
paint). A received RolloutReady / WeightsReady loads torch, lazily, in the handle's reader thread.

A background thread reads the connection: events queue up for :meth:`RunHandle.events`, answers
go to the :meth:`RunHandle.request` that waits for them, and acknowledgements release
:meth:`RunHandle.send` (which returns once the trainer has queued the command, so commands apply
in the order they were sent, across clients too).

A late client catches up in two steps: :meth:`RunHandle.history` reads everything on disk, then
:meth:`RunHandle.events` yields only what is newer (logged events by ``seq``, metrics by frame
count per metric), so nothing is shown twice or missed. When the connection drops (the trainer
ended, or dropped this client for falling behind: ``drop_reason`` says), ``events`` ends;
:meth:`RunHandle.reattach` connects again and returns the history to catch up from.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tui_rl.config import RunConfig
from tui_rl.engine.channel.framing import (
    AuthFailed,
    Channel,
    UnsafeSocket,
    WireError,
    check_socket_path,
    connect,
)
from tui_rl.engine.channel.wire import decode, encode
from tui_rl.engine.channel.launch import RunStartError, launch_trainer, log_tail
from tui_rl.engine.channel.warm_trainers import SpareTrainer
from tui_rl.engine.protocol import (
    EVENT_TYPES,
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
    Undone,
    UndoEdit,
    WeightsReady,
)
from tui_rl.engine.runs.folder import KEY_FILE, SOCKET_FILE, RunHistory, RunSummary, read_history, read_summary
from tui_rl.engine.runs.record import create_run

#: how long start() waits for a new trainer to open its socket (it opens it before importing torch)
START_TIMEOUT_S = 60.0
#: how long send() waits for the trainer to acknowledge a command
ACK_TIMEOUT_S = 60.0
#: events a handle holds unread before it gives up its connection (then it catches up from disk)
INBOX_LIMIT = 100_000

_DROPPED = object()  # wakes a reader of events() when the connection drops


class RunNotLive(RuntimeError):
    """A command was sent to a run whose trainer is not reachable."""


class RunHandle:
    """One connection to a run (or a read-only view of a run whose trainer is gone)."""

    def __init__(
        self, run_dir: Path, channel: Channel | None = None, process: subprocess.Popen | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self.name = self.run_dir.name
        self.process = process
        #: why the last connection ended ("" while connected, or never connected)
        self.drop_reason = ""
        self._channel: Channel | None = None
        self._send_lock = threading.Lock()
        self._state = threading.Condition()
        self._sent = self._acked = 0
        self._refused: dict[int, str] = {}
        self._inbox: queue.Queue = queue.Queue()
        self._answers: dict[int, queue.Queue] = {}
        self._seen_seq = 0
        self._metric_frames: dict[str, int] = {}
        self._next_request = 0
        if process is not None:  # reap it the moment it ends: no zombie, and no "running" ghost
            threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
        if channel is not None:
            self._follow(channel)

    # ---- opening --------------------------------------------------------------------------------

    @classmethod
    def start(
        cls, config: RunConfig, *, name: str | None = None, runs_dir: Path = Path("runs"), preset: str = "",
        spare: SpareTrainer | None = None,
    ) -> RunHandle:
        """Make a run folder for ``config`` and start its trainer (``spare``, the warm trainer that
        checked ``config``, when given); returns once it is reachable."""
        run_dir = create_run(config, name=name, runs_dir=runs_dir, preset=preset)
        return cls.spawn(run_dir, spare=spare)

    @classmethod
    def continue_run(cls, run_dir: Path) -> RunHandle:
        """Start a trainer that goes on from the run's last checkpoint."""
        return cls.spawn(Path(run_dir), from_checkpoint=True)

    @classmethod
    def spawn(cls, run_dir: Path, from_checkpoint: bool = False, spare: SpareTrainer | None = None) -> RunHandle:
        run_dir = Path(run_dir).resolve()
        handle = cls(run_dir, process=launch_trainer(run_dir, from_checkpoint, spare))
        process = handle.process
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.returncode is not None:  # set by the reaper thread
                raise RunStartError(f"the trainer exited at once (code {process.returncode}):\n{log_tail(run_dir)}")
            channel = try_connect(run_dir, process.pid)
            if channel is not None:
                handle._follow(channel)
                return handle
            time.sleep(0.05)
        process.terminate()
        raise RunStartError(f"the trainer did not open its control socket in {START_TIMEOUT_S:.0f} s:\n{log_tail(run_dir)}")

    @classmethod
    def attach(cls, run_dir: Path) -> RunHandle:
        """Connect to the run's trainer if it is up; otherwise a read-only handle (``is_live`` False).

        UnsafeSocket when run.json names a socket this user should not trust."""
        handle = cls(Path(run_dir).resolve())
        handle._connect()
        return handle

    def reattach(self) -> RunHistory:
        """Connect again (after a drop) if the trainer is up, and return the run's history read
        after connecting: :meth:`events` goes on from it with no gap and no repeat."""
        self._drop("")
        while not self._inbox.empty():
            self._inbox.get_nowait()  # what the old connection left: the history has it
        self._connect()
        return self.history()

    def _connect(self) -> None:
        summary = read_summary(self.run_dir)
        if summary.status not in FINAL_STATES:
            channel = try_connect(self.run_dir, summary.pid)
            if channel is not None:
                self._follow(channel)

    # ---- state ----------------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self._channel is not None

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
        """Send ``command``; returns once the trainer has queued it (behind every command queued
        before). RunNotLive without a trainer; ValueError for a command that cannot be sent."""
        header, payload = encode(command)  # WireError (a ValueError) names the bad field
        with self._send_lock:
            channel = self._channel
            if channel is None:
                raise RunNotLive(f"run {self.name} has no trainer running; it is read-only")
            with self._state:
                self._sent += 1
                number = self._sent
            try:
                channel.send_frame(header, payload)
            except OSError as exc:
                self._lost(channel, f"the trainer went away ({exc})")
                raise RunNotLive(f"run {self.name}: the trainer went away ({exc})") from None
            with self._state:
                answered = self._state.wait_for(
                    lambda: self._acked >= number or self._channel is not channel, ACK_TIMEOUT_S
                )
                refused = self._refused.pop(number, None)
                acked = self._acked >= number
        if refused is not None:
            raise ValueError(f"the trainer refused {type(command).__name__}: {refused}")
        if not acked:
            why = self.drop_reason if answered else f"no answer in {ACK_TIMEOUT_S:.0f} s"
            raise RunNotLive(f"run {self.name}: {type(command).__name__} not confirmed: {why}")

    def pause(self) -> None:
        self.send(Pause())

    def resume(self) -> None:
        """Go on after a pause (un-pause; :meth:`continue_run` starts a stopped run again)."""
        self.send(Resume())

    def step_batch(self) -> None:
        self.send(StepBatch())

    def stop(self) -> None:
        self.send(Stop())

    def checkpoint(self) -> None:
        self.send(CheckpointNow())

    def set_hparams(self, values: dict) -> None:
        self.send(SetHparams(dict(values)))

    def undo_edit(self) -> None:
        self.send(UndoEdit())

    def request(self, command: SnapshotRollout | GetWeights, timeout: float = 60.0) -> Event:
        """Send a snapshot / weights request and wait for its answer (TimeoutError after
        ``timeout``, RunNotLive when the connection drops meanwhile)."""
        self._next_request += 1
        command.request_id = self._next_request
        answers: queue.Queue = queue.Queue()
        self._answers[command.request_id] = answers
        try:
            self.send(command)
            try:
                answer = answers.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"run {self.name}: no answer to {type(command).__name__} in {timeout:.0f} s") from None
        finally:
            self._answers.pop(command.request_id, None)
        if answer is _DROPPED:
            raise RunNotLive(f"run {self.name}: {self.drop_reason}")
        return answer

    def snapshot(self, source: str = "latest", timeout: float = 60.0):
        """A rollout TensorDict (``latest`` episode, a fresh ``eval`` episode, a ``replay`` sample), or None."""
        return self.request(SnapshotRollout(source), timeout).rollout

    def weights(self, timeout: float = 60.0) -> dict:
        return self.request(GetWeights(), timeout).state_dict

    # ---- events ---------------------------------------------------------------------------------

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Live events, blocking; ends when the run ends or the connection drops (then
        ``is_live`` is False and ``drop_reason`` says why; :meth:`reattach` goes on).

        With ``timeout``, also ends after that many seconds without an event (call again to go
        on). Events already in :meth:`history` are skipped.
        """
        while True:
            if self._channel is None and self._inbox.empty():
                return
            try:
                event = self._inbox.get(timeout=timeout)
            except queue.Empty:
                return
            if event is _DROPPED:
                continue  # the check above ends the loop once the queue is empty
            event = self._unseen(event)
            if event is None:
                continue
            final = isinstance(event, StatusChanged) and event.state in FINAL_STATES
            if final:
                self._drop("the run ended")  # the trainer hangs up too
            yield event
            if final:
                return

    def _unseen(self, event: Event) -> Event | None:
        if isinstance(event, LOGGED_EVENTS):
            if event.seq <= self._seen_seq:
                return None
            self._seen_seq = event.seq
            if isinstance(event, Undone):  # the run went back: metrics after its frame come again
                self._metric_frames = {k: min(v, event.frames) for k, v in self._metric_frames.items()}
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

    # ---- the connection -------------------------------------------------------------------------

    def _follow(self, channel: Channel) -> None:
        with self._state:
            self._channel, self._sent, self._acked, self.drop_reason = channel, 0, 0, ""
            self._refused.clear()
        threading.Thread(target=self._read_loop, args=(channel,), name=f"run-{self.name}", daemon=True).start()

    def _read_loop(self, channel: Channel) -> None:
        reason = "the connection closed"
        while True:
            try:
                header, payload = channel.recv_json()
                notice = header.get("control")
                if notice is None:
                    self._deliver(decode(header, payload, EVENT_TYPES))
                elif notice == "bye":
                    reason = f"the trainer hung up: {header.get('reason')}"
                    break
                elif notice in ("ack", "refused") and isinstance(header.get("n"), int):
                    with self._state:
                        if notice == "refused":
                            self._refused[header["n"]] = str(header.get("reason"))
                        self._acked = max(self._acked, header["n"])
                        self._state.notify_all()
            except (EOFError, OSError):
                break
            except WireError as exc:  # never run, never trusted: the connection goes
                reason = f"the trainer sent a message that was refused ({exc})"
                break
            except OverflowError as exc:
                reason = str(exc)
                break
        self._lost(channel, reason)
        with self._send_lock:  # no send() in flight on it: the socket can go
            channel.release()

    def _deliver(self, event: Event) -> None:
        answers = self._answers.get(getattr(event, "request_id", None))
        if isinstance(event, (RolloutReady, WeightsReady)) and answers is not None:
            answers.put(event)
        elif self._inbox.qsize() >= INBOX_LIMIT:
            raise OverflowError("this client read too few events and gave up its connection; reattach to catch up")
        else:
            self._inbox.put(event)

    def _lost(self, channel: Channel, reason: str) -> None:
        """``channel`` is gone: wake everyone waiting on it."""
        channel.close()
        with self._state:
            if self._channel is not channel:
                return
            self._channel = None
            self.drop_reason = reason
            self._state.notify_all()
        self._inbox.put(_DROPPED)
        for answers in list(self._answers.values()):
            answers.put(_DROPPED)

    def _drop(self, reason: str) -> None:
        channel = self._channel
        if channel is not None:
            self._lost(channel, reason)

    def close(self) -> None:
        """Detach; the run goes on."""
        self._drop("closed by this client")

    def __enter__(self) -> RunHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def try_connect(run_dir: Path, pid: int | None) -> Channel | None:
    """A connection to the trainer, or None when it is not (yet, or any more) listening.
    UnsafeSocket when run.json names a socket this user should not trust."""
    summary = read_summary(run_dir)
    if pid is not None and summary.pid != pid:
        return None  # run.json still describes an earlier trainer of this folder
    try:
        address = check_socket_path(run_dir, summary.socket or str(Path(run_dir) / SOCKET_FILE), SOCKET_FILE)
        return connect(address, (Path(run_dir) / KEY_FILE).read_bytes())
    except UnsafeSocket:
        raise
    except (OSError, EOFError, WireError, AuthFailed):  # not up yet, gone, or a stale key
        return None
