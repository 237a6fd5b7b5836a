"""Branching from the app: the steps behind ``b`` in Train and Runs, shared by both.

Reading the checkpoints, taking a new one from a live run, making the branch (in a process of its
own: checking that the edits fit builds the networks) and starting the child's trainer are blocking
steps: they run in thread workers of the screen that asked, which hear back through
``call_from_thread``. When the child is up, the app
opens it in Train (:class:`OpenRun`); the parent's trainer, its own process, trains on. One branch
is made at a time (the app's :class:`~tui_rl.tui.under_way.UnderWay`, from the key to the child up).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from functools import partial
from pathlib import Path

from textual.screen import Screen

from tui_rl.engine.channel.handle import RunHandle
from tui_rl.engine.python_command import python_module
from tui_rl.engine.runs.folder import read_config
from tui_rl.tui.engine_imports import load_torchrl
from tui_rl.tui.messages import OpenRun
from tui_rl.tui.screens.branch.dialog import NOW, BranchRequest, BranchScreen
from tui_rl.tui.screens.confirm import ConfirmScreen

#: how long a live run may take to write the checkpoint a branch starts from
CHECKPOINT_WAIT_S = 120.0
#: how long making a branch may take (it builds the env and the networks once)
BRANCH_TIMEOUT_S = 300.0


def make_branch(run_dir: Path, request: BranchRequest, fresh: bool) -> dict:
    """Run ``engine.branching`` in a process of its own (it builds the networks to check they
    fit); its answer: ``{"child": path}`` or ``{"error": ..., "misfit": bool}``."""
    command = python_module("tui_rl.engine.run.branching", str(run_dir), "--at", str(request.at_frames),
                            "--changes", json.dumps(request.changes))
    if fresh:
        command.append("--fresh-networks")
    result = subprocess.run(command, capture_output=True, text=True, timeout=BRANCH_TIMEOUT_S,
                            env={**os.environ, "RL_LOGGING_LEVEL": "WARNING"}, stdin=subprocess.DEVNULL)
    lines = result.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"the branch process failed: {(result.stderr.strip().splitlines() or ['no output'])[-1]}"}


class BranchFlow:
    """Branch runs on behalf of ``screen``; ``handle`` is the live run's (for a new checkpoint)."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    @property
    def app(self):
        return self.screen.app

    def _in_thread(self, function, *args) -> None:
        self.screen.run_worker(partial(function, *args), thread=True, group="branch", exit_on_error=False)

    def _say(self, message: str, severity: str = "error") -> None:
        self.app.call_from_thread(self.app.notify, message, title="Branch", severity=severity, markup=False)

    def start(self, run_dir: Path, handle: RunHandle | None = None, frames: int = 0) -> None:
        """Ask what to branch (the dialog), then make the branch; refused while one is under way."""
        if self.app.under_way.begin("branch", f"Branching run {Path(run_dir).name}"):
            self._in_thread(self._ask, Path(run_dir), handle, frames)

    def _done(self) -> None:
        self.app.under_way.end("branch")

    def _ask(self, run_dir: Path, handle: RunHandle | None, frames: int) -> None:
        try:
            load_torchrl()
            from tui_rl.engine.run.branching import checkpoint_frames

            config = read_config(run_dir)
            checkpoints = checkpoint_frames(run_dir)
        except Exception as exc:  # a damaged folder is said, never raised
            self._say(f"Cannot branch {run_dir.name}: {exc}")
            self._done()
            return
        live = handle is not None and handle.is_live
        if not checkpoints and not live:
            self._say(f"Run {run_dir.name} has no checkpoint to branch from.", "warning")
            self._done()
            return
        dialog = BranchScreen(run_dir.name, config, checkpoints, live)
        self.app.call_from_thread(self.app.push_screen, dialog, partial(self._chosen, run_dir, handle, frames))

    def _chosen(self, run_dir: Path, handle: RunHandle | None, frames: int, request: BranchRequest | None) -> None:
        if request is not None:
            at = "a new checkpoint" if request.at_frames == NOW else f"{request.at_frames:,} frames"
            self.app.under_way.step("branch", f"Making the branch of {run_dir.name} at {at}")
            self._in_thread(self._make, run_dir, handle, frames, request, False)
        else:
            self._done()

    def _make(self, run_dir: Path, handle: RunHandle | None, frames: int, request: BranchRequest, fresh: bool) -> None:
        from tui_rl.engine.run.branching import checkpoint_frames

        try:
            if request.at_frames == NOW:
                handle.checkpoint()
                deadline = time.monotonic() + CHECKPOINT_WAIT_S
                while max(checkpoint_frames(run_dir), default=-1) < frames:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no checkpoint within {CHECKPOINT_WAIT_S:.0f} s")
                    time.sleep(0.1)
                request.at_frames = max(checkpoint_frames(run_dir))
            answer = make_branch(run_dir, request, fresh)
            if "error" in answer:
                if answer.get("misfit"):
                    question = ConfirmScreen("Start the branch with fresh networks?", answer["error"], "Fresh networks")
                    again = partial(self._fresh_chosen, run_dir, handle, frames, request)
                    self.app.call_from_thread(self.app.push_screen, question, again)
                    return  # still under way: the question's answer goes on or ends it
                self._say(answer["error"])
                self._done()
                return
            child = Path(answer["child"])
            RunHandle.continue_run(child).close()  # its trainer goes on; Train attaches to it
        except Exception as exc:  # a checkpoint that never came, a process that cannot start: said
            self._say(f"Cannot branch {run_dir.name}: {exc}")
            self._done()
            return
        self._done()
        self._say(f"Branched {child.name} from {run_dir.name} at {request.at_frames:,} frames.", "information")
        self.app.call_from_thread(self.screen.post_message, OpenRun(child))

    def _fresh_chosen(self, run_dir, handle, frames, request: BranchRequest, yes: bool | None) -> None:
        if yes:
            self._in_thread(self._make, run_dir, handle, frames, request, True)
        else:
            self._done()
