"""Starting a trainer process for a run folder (``python -m tui_rl.engine.run.main``), as the app does.

Torch-free: the app starts runs before torch is loaded anywhere in it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tui_rl.engine.channel.warm_trainers import SpareTrainer, hand_run, take_spare
from tui_rl.engine.python_command import python_module
from tui_rl.engine.runs import liveness
from tui_rl.engine.runs.folder import LOG_FILE, refuse_links


class RunStartError(RuntimeError):
    """The trainer process could not be started; the message holds the end of its log."""


def launch_trainer(
    run_dir: Path, from_checkpoint: bool = False, spare: SpareTrainer | None = None
) -> subprocess.Popen:
    """Start the trainer process for ``run_dir``, in its own session (a closing terminal's SIGHUP to
    our process group does not reach it), handing it the run's lock: ``spare`` (the warm trainer
    that checked the run's config) when given, else the spare warm trainer when there is one
    ready (engine/channel/warm_trainers.py), else a new process."""
    refuse_links(run_dir)  # before its lock and log are opened
    try:
        lock_fd = liveness.hand_over(run_dir)
    except liveness.RunBusy as exc:
        raise RunStartError(str(exc)) from None
    command = python_module("tui_rl.engine.run.main", str(run_dir), "--lock-fd", str(lock_fd))
    if from_checkpoint:
        command.append("--from-checkpoint")
    try:
        log_fd = os.open(Path(run_dir) / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with open(log_fd, "ab") as log:
            if spare is not None:
                warm = hand_run(spare, run_dir, from_checkpoint, lock_fd, log_fd)
            else:
                warm = take_spare(run_dir, from_checkpoint, lock_fd, log_fd)
            if warm is not None:
                return warm
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(lock_fd,),
            )
    finally:
        os.close(lock_fd)  # the trainer holds the lock now; if it could not start, nobody does


def log_tail(run_dir: Path, lines: int = 20) -> str:
    try:
        text = (Path(run_dir) / LOG_FILE).read_text(errors="replace")
    except OSError:
        return "(no trainer log)"
    return "\n".join(text.splitlines()[-lines:])
