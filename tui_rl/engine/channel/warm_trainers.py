"""A spare trainer process, warmed ahead of the run it will train.

A new Python process spends seconds importing torch and torchrl before a run can start. The app
(and seed groups) call :func:`warm_up` early; a spare trainer process (``engine/run/warm.py``)
then does those imports in the background, says it is ready, and waits. :func:`take_spare` hands a
ready spare the next run (its folder, its lock and its log, through a Unix socket), and a new
spare is started for the one after; a spare still importing is left to finish, and the run starts
cold (it would wait for the same imports either way).

The spare also does the torch work the app must not do in its own interpreter
(``engine/run/warm_requests.py``): :func:`check_in_spare` runs the checks before a run there (the
spare that passed them then takes that run, :func:`launch_trainer`'s ``spare``), and
:func:`ask_spare` any other request (an env's specs). Both use the spare there is, waiting for
its imports if it is still importing, or start one now when there is none: the checks of a run
started with no spare warmed run in the process that goes on to train it. Nothing else changes in what a run is: the same folder, lock, log and control socket as a
trainer started cold. A spare that is never used waits without CPU; it ends at
:func:`discard_spare`, and when the process that started it ends, however it ends (it sees its
socket close).

Torch-free: the app warms a trainer before torch is loaded anywhere in it.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tui_rl.config import ConfigError, FieldError, RunConfig
from tui_rl.engine.python_command import python_module

#: what a spare sends once its imports are done
READY = b"ready"
#: the largest message either way: a run config (a request), an answer, or the run order
MESSAGE_BYTES = 1 << 20
#: how long a request waits for a spare still importing torch (seconds; a loaded machine is slow)
IMPORT_TIMEOUT_S = 180.0


class SpareGone(RuntimeError):
    """The spare trainer ended (or never got ready) before it answered; the message says which."""


class SpareTrainer:
    """One warm trainer process and our end of its socket."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                python_module("tui_rl.engine.run.warm", str(theirs.fileno())),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # as a cold trainer: a closing terminal's SIGHUP does not reach it
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.socket = ours
        self.is_ready = False
        #: the folder it started in: a user's env file (``env.id = "corridor.py:Corridor"``) and
        #: ``env.imports`` are found from there, so it serves only callers still in that folder
        self.cwd = os.getcwd()
        #: one request at a time, and the run order after the last answer
        self.asking = threading.Lock()

    def ready(self) -> bool:
        """Whether it has done its imports and waits for a run (it sends one message then)."""
        if not self.is_ready:
            try:
                self.is_ready = self.socket.recv(len(READY), socket.MSG_DONTWAIT) == READY
            except (BlockingIOError, OSError):
                return False
        return self.is_ready and self.process.poll() is None

    def wait_ready(self, timeout: float = IMPORT_TIMEOUT_S) -> None:
        """Return once it has done its imports; SpareGone when it ends or takes over ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None:
                raise SpareGone(f"the trainer process ended while importing torch (code {self.process.returncode})")
            if time.monotonic() > deadline:
                raise SpareGone(f"the trainer process did not import torch in {timeout:.0f} s")
            select.select([self.socket], [], [], 0.2)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Its answer to ``request`` (engine/run/warm_requests.py), once it has done its imports."""
        with self.asking:
            self.wait_ready()
            try:
                self.socket.send(json.dumps(request).encode())
                answer = self.socket.recv(MESSAGE_BYTES)
            except OSError as exc:
                raise SpareGone(f"the trainer process went away ({exc})") from None
            if not answer:  # it ended while answering: a crash in native code, or it was killed
                self.process.wait()
                raise SpareGone(f"the trainer process ended while answering (code {self.process.returncode})")
            return json.loads(answer)

    def hand(self, run_dir: Path, from_checkpoint: bool, lock_fd: int, log_fd: int) -> subprocess.Popen | None:
        """Give it the run; None when it is gone and cannot take one (the caller starts one cold)."""
        with self.asking:
            if self.process.poll() is not None:
                return None
            order = json.dumps({"run_dir": str(run_dir), "from_checkpoint": from_checkpoint}).encode()
            try:
                socket.send_fds(self.socket, [order], [lock_fd, log_fd])
            except OSError:
                return None
            finally:
                self.socket.close()
            return self.process

    def discard(self) -> None:
        """End it: it holds no run, so nothing is lost (and its imports stop taking CPU)."""
        self.socket.close()
        self.process.terminate()
        threading.Thread(target=self.process.wait, name=f"reap-spare-{self.process.pid}", daemon=True).start()


_lock = threading.Lock()
_spare: SpareTrainer | None = None
#: whether this process keeps a spare warm (it called warm_up): a spare used is then replaced
_warming = False


def warm_up() -> bool:
    """Have a spare trainer warming, if there is none; whether this call started it."""
    global _spare, _warming
    with _lock:
        _warming = True
        if _spare is not None:
            return False
        _spare = SpareTrainer()
        return True


def current_spare(take: bool = False) -> SpareTrainer:
    """The spare there is, started now when there is none; it stays this process's spare unless
    ``take`` (then the caller owns it)."""
    global _spare
    with _lock:
        if _spare is not None and not serves_here(_spare):
            _spare.discard()
            _spare = None
        if _spare is None:
            _spare = SpareTrainer()
        spare = _spare
        if take:
            _spare = None
        return spare


def serves_here(spare: SpareTrainer) -> bool:
    """Whether ``spare`` is alive and started in the folder this process is in now."""
    return spare.process.poll() is None and spare.cwd == os.getcwd()


def ask_spare(request: dict[str, Any]) -> dict[str, Any]:
    """The spare's answer to ``request``; SpareGone when it could not answer (then it is
    dropped, and the next request starts a new one)."""
    global _spare
    spare = current_spare()
    try:
        return spare.ask(request)
    except SpareGone:
        with _lock:
            if _spare is spare:
                _spare = None
        spare.discard()
        raise


def check_in_spare(config: RunConfig, runs_dir: Path) -> SpareTrainer:
    """A trainer process that has passed the checks before a run of ``config``
    (engine/run/preflight.py, the dry run included): taken from the pool, to be handed that run
    (``launch_trainer(..., spare=)``) or put back (:func:`put_back`). ConfigError naming the field
    when the checks refuse ``config`` (the spare, unchanged, stays this process's spare);
    SpareGone when the process ended first; RuntimeError when a check itself broke."""
    spare = current_spare(take=True)
    try:
        answer = spare.ask({"check": config.model_dump(mode="json"), "runs_dir": str(runs_dir)})
    except BaseException:
        spare.discard()
        raise
    if answer.get("ok"):
        return spare
    put_back(spare)
    if "refused" in answer:
        raise ConfigError(answer["refused"], tuple(FieldError(path, message) for path, message in answer["errors"]))
    raise RuntimeError(answer.get("failed", "the checks before the run did not answer"))


def put_back(spare: SpareTrainer) -> None:
    """Make a spare taken out (and not handed a run) this process's spare again, unless it has one."""
    global _spare
    if spare.socket.fileno() == -1:
        return  # handed its run (or discarded): no longer a spare
    with _lock:
        if _spare is None and spare.process.poll() is None:
            _spare, spare = spare, None
    if spare is not None:
        spare.discard()


def hand_run(
    spare: SpareTrainer, run_dir: Path, from_checkpoint: bool, lock_fd: int, log_fd: int
) -> subprocess.Popen | None:
    """Hand ``spare`` (from :func:`check_in_spare`) its run, and warm the next spare when this
    process keeps one; None when it could not take the run."""
    process = spare.hand(run_dir, from_checkpoint, lock_fd, log_fd)
    if process is None:
        spare.discard()
    if _warming:
        warm_up()
    return process


def take_spare(run_dir: Path, from_checkpoint: bool, lock_fd: int, log_fd: int) -> subprocess.Popen | None:
    """The spare trainer, now training ``run_dir``, with a new spare warming for the next run;
    None when there is no ready spare (no :func:`warm_up`, or it is still importing) or it could
    not take the run."""
    global _spare
    with _lock:
        if _spare is None or not _spare.ready() or not serves_here(_spare):
            return None
        spare, _spare = _spare, None
    return hand_run(spare, run_dir, from_checkpoint, lock_fd, log_fd)


def discard_spare() -> None:
    """Let the spare trainer go (when the app exits), and warm no more; the next
    :func:`take_spare` finds none."""
    global _spare, _warming
    with _lock:
        spare, _spare, _warming = _spare, None, False
    if spare is not None:
        spare.discard()


def spare_pid() -> int | None:
    """The spare trainer's process id, None when there is none."""
    with _lock:
        return _spare.process.pid if _spare is not None else None


def spare_ready() -> bool:
    """Whether a spare trainer has done its imports and would take the next run."""
    with _lock:
        return _spare is not None and _spare.ready()


__all__ = [
    "SpareGone", "ask_spare", "check_in_spare", "discard_spare", "hand_run", "put_back", "spare_pid",
    "spare_ready", "take_spare", "warm_up",
]
