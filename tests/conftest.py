"""Fixtures and helpers shared by the test modules.

Tests wait on conditions, never on fixed sleeps: ``until`` (in Pilot tests) and ``wait_until``
(elsewhere) poll a condition with a generous ceiling, so a loaded machine makes a test slower,
never red.
"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from tui_rl.engine.runfolder import list_runs, trainer_is_gone

#: the most any test waits for a condition; a loaded two-core machine needs this much headroom
PATIENCE_S = 120.0


def stop_trainers(runs: Path) -> None:
    """SIGTERM every trainer still running under ``runs`` (each leads its own session)."""
    for summary in list_runs(runs):
        if summary.pid and not trainer_is_gone(summary):
            try:
                os.killpg(summary.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


@pytest.fixture
def runs_dir(tmp_path: Path):
    """Where the test's runs go; any trainer still up at the end is stopped."""
    runs = tmp_path / "runs"
    yield runs
    stop_trainers(runs)


def wait_until(condition: Callable[[], object], timeout: float = PATIENCE_S, what: str = "") -> object:
    """Poll ``condition`` until it returns something true (and return that), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(0.05)


async def until(pilot, condition: Callable[[], object], timeout: float = PATIENCE_S, what: str = "") -> None:
    """The Pilot form of :func:`wait_until`: the app keeps running while the test waits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        await pilot.pause(0.1)


async def settle(pilot) -> None:
    """Let the app's background workers finish and the screen catch up."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def screen_text(app) -> str:
    """What the terminal shows, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def words_on_screen(app) -> str:
    """The screen's text with line breaks and runs of spaces as one space (notes wrap)."""
    return " ".join(screen_text(app).split())


def renderable_text(renderable, width: int = 200) -> str:
    """A Rich renderable as plain text at ``width`` columns."""
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


# ---- the app: messages, toasts, fixture runs (added for the Train and Runs tests) ---------------

#: a failure reason with brackets, which Rich markup would eat
PIP_REASON = "the tensorboard logger needs its package: pip install 'tui-rl[tensorboard]'"


class Posted:
    """Every message posted in the app, once each however far it bubbles (a Pilot ``message_hook``)."""

    def __init__(self) -> None:
        self.messages: list = []

    def __call__(self, message) -> None:
        if not any(message is seen for seen in self.messages):
            self.messages.append(message)

    def of(self, kind: type) -> list:
        return [m for m in self.messages if type(m) is kind]


def toasts(app) -> str:
    """The words of the notifications on screen (each toast line follows a ``▌`` bar)."""
    rows = [line.rsplit("▌", 1)[1] for line in screen_text(app).splitlines() if "▌" in line]
    return " ".join(" ".join(rows).split())


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


@pytest.fixture
def demo_runs(tmp_path, monkeypatch) -> Path:
    """Fixture run folders (no trainer) in ``runs/`` under a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    runs = Path("runs")
    from test_snapshots_train import START, demo_run  # the snapshot tests' fixture run folders

    demo_run(runs, "cartpole-fast", learns=2.0, created=START,
             reason="evaluation return 199.2 reached the target 195")
    demo_run(runs, "cartpole-slow", learns=0.5, created=START + 100)
    demo_run(runs, "cartpole-failed", learns=1.0, created=START + 200, status="failed", reason=PIP_REASON)
    return runs
