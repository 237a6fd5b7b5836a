"""Whether a run's trainer is alive: an flock on ``run.lock`` held by whoever owns the run.

:func:`create_run` takes the lock; :meth:`RunHandle.spawn` hands it to the trainer process (the
parent closes its copy); headless training keeps it in-process. The kernel drops the lock when its
last holder exits, however it exits (``kill -9`` included, zombie or not), so a reader knows the
trainer is gone without trusting a pid that may not have been written yet, or may be reused.

No torch, no other tui_rl imports: run folders are read before anything heavy loads.
"""

from __future__ import annotations

import fcntl
import os
import shlex
from pathlib import Path

LOCK_FILE = "run.lock"

#: the locks this process holds, by resolved run folder
_held: dict[Path, int] = {}


class RunBusy(RuntimeError):
    """Another process owns the run (its trainer is up)."""


def hold(run_dir: Path) -> int:
    """Take the run's lock for this process (again: the same fd); RunBusy when another holds it."""
    key = Path(run_dir).resolve()
    if key in _held:
        return _held[key]
    fd = os.open(key / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunBusy(f"run {key.name} is busy: another process is training it "
                      f"(`tui-rl attach {shlex.quote(key.name)}` shows it)") from None
    _held[key] = fd
    return fd


def hand_over(run_dir: Path) -> int:
    """The locked fd, no longer ours to keep: pass it to the trainer (``pass_fds``), then close it."""
    fd = hold(run_dir)
    del _held[Path(run_dir).resolve()]
    return fd


def adopt(run_dir: Path, fd: int) -> None:
    """Keep a lock fd handed over by the parent; not inherited further (a lingering env worker
    must not keep a dead trainer's run looking alive)."""
    os.set_inheritable(fd, False)
    _held[Path(run_dir).resolve()] = fd


def release(run_dir: Path) -> None:
    fd = _held.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        os.close(fd)


def holds(run_dir: Path) -> bool:
    """Whether this very process holds the run's lock."""
    return Path(run_dir).resolve() in _held


def is_held(run_dir: Path) -> bool | None:
    """Whether some process holds the run's lock; None when the folder has no lock file (a run
    made before locks existed) or it cannot be read."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
    return False
