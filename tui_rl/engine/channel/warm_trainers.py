"""A spare trainer process, warmed ahead of the run it will train.

A new Python process spends seconds importing torch and torchrl before a run can start. The app
(and seed groups) call :func:`warm_up` early; a spare trainer process (``engine/run/warm.py``)
then does those imports in the background, says it is ready, and waits. :func:`take_spare` hands a
ready spare the next run (its folder, its lock and its log, through a Unix socket), and a new
spare is started for the one after; a spare still importing is left to finish, and the run starts
cold (it would wait for the same imports either way). Nothing else changes in what a run is: the same folder, lock, log and control socket as a
trainer started cold. A spare that is never used waits without CPU; it ends at
:func:`discard_spare`, and when the process that started it ends, however it ends (it sees its
socket close).

Torch-free: the app warms a trainer before torch is loaded anywhere in it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

from tui_rl.engine.python_command import python_module

#: what a spare sends once its imports are done
READY = b"ready"


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

    def ready(self) -> bool:
        """Whether it has done its imports and waits for a run (it sends one message then)."""
        if not self.is_ready:
            try:
                self.is_ready = self.socket.recv(len(READY), socket.MSG_DONTWAIT) == READY
            except (BlockingIOError, OSError):
                return False
        return self.is_ready and self.process.poll() is None

    def hand(self, run_dir: Path, from_checkpoint: bool, lock_fd: int, log_fd: int) -> subprocess.Popen | None:
        """Give it the run; None when it is gone and cannot take one (the caller starts one cold)."""
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


def warm_up() -> bool:
    """Have a spare trainer warming, if there is none; whether this call started it."""
    global _spare
    with _lock:
        if _spare is not None:
            return False
        _spare = SpareTrainer()
        return True


def take_spare(run_dir: Path, from_checkpoint: bool, lock_fd: int, log_fd: int) -> subprocess.Popen | None:
    """The spare trainer, now training ``run_dir``, with a new spare warming for the next run;
    None when there is no ready spare (no :func:`warm_up`, or it is still importing) or it could
    not take the run."""
    global _spare
    with _lock:
        if _spare is None or not _spare.ready():
            return None
        spare, _spare = _spare, None
    process = spare.hand(run_dir, from_checkpoint, lock_fd, log_fd)
    if process is None:
        spare.discard()
    warm_up()
    return process


def discard_spare() -> None:
    """Let the spare trainer go (when the app exits); the next :func:`take_spare` finds none."""
    global _spare
    with _lock:
        spare, _spare = _spare, None
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


__all__ = ["discard_spare", "spare_pid", "spare_ready", "take_spare", "warm_up"]
