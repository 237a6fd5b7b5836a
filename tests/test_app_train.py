"""The Train screen, driven like a user with a real trainer process on a tiny budget: start a run,
watch the counter and the chart move, change the learning rate live, pause and resume, quit leaving
it running, then attach again and find the whole history."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from tui_rl.config import RunConfig, apply_overrides, load_preset
from tui_rl.engine.protocol import HparamsChanged, HparamsRejected
from tui_rl.engine.runfolder import list_runs, read_events, read_summary, trainer_is_gone
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.quit import QuitScreen
from tui_rl.tui.screens.train import TrainScreen
from tui_rl.tui.widgets.charts import CAPACITY, DecimatedSeries
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.widgets.run_list import RunList
from tui_rl.tui.widgets.status_line import StatusLine

SMALL_RUN = [
    "collector.total_frames=300000",  # far more than the test needs: it ends the run itself
    "collector.frames_per_batch=128",  # one batch = 128 frames
    "eval.every_frames=2000",
    "eval.episodes=2",
    "eval.target_return=none",  # never finish early by solving it
]


@pytest.fixture
def runs_dir(tmp_path):
    """Where the test's runs go; any trainer still up at the end is stopped."""
    runs = tmp_path / "runs"
    yield runs
    for summary in list_runs(runs):
        if summary.pid and not trainer_is_gone(summary):
            os.killpg(summary.pid, signal.SIGTERM)  # the trainer leads its own session


async def until(pilot, condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.1)


def log_text(app) -> str:
    return "\n".join(line.text for line in app.screen.query_one(EventLog).lines)


def chart_text(app) -> str:
    """The chart on screen (at 80x24 one is shown at a time)."""
    return str(app.screen.query_one("#charts").viewer.render())


def shown_frames(app) -> int:
    return app.screen.query_one(StatusLine).progress.frames


async def type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector)
    field.focus()
    field.value = ""
    await pilot.press(*text, "enter")


@pytest.mark.slow
async def test_a_user_trains_tunes_pauses_detaches_and_attaches_again(runs_dir):
    config = apply_overrides(load_preset("cartpole-dqn"), SMALL_RUN)
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen.state == "running",
                    what="the run to start")
        screen = app.screen
        await until(pilot, lambda: shown_frames(app) > 0, what="frames")
        first_frames, first_chart = shown_frames(app), chart_text(app)
        await until(pilot, lambda: shown_frames(app) > first_frames + 1_000, what="more frames")
        await until(pilot, lambda: chart_text(app) != first_chart, what="the chart to change")
        run_dir, trainer = app.current_run_dir, app.handle.process
        assert app.handle is screen.handle and run_dir.parent == runs_dir.resolve()

        # A refused value is never sent: the note says why and the trainer hears nothing.
        await pilot.press("e")
        await type_into(pilot, "#hp-optim-lr", "-1")
        assert "optim.lr" in str(screen.query_one("#hp-note").render())
        assert "greater than 0" in str(screen.query_one("#hp-note").render())

        # A valid one is applied by the trainer at its next batch, logged, and recorded on disk.
        await type_into(pilot, "#hp-optim-lr", "0.0003")
        await until(pilot, lambda: "hyperparameters changed" in log_text(app), what="the trainer's answer")
        assert "optim.lr" in log_text(app)
        assert screen.query_one("#hp-optim-lr").value == "0.0003"
        changes = [e for e in read_events(run_dir) if isinstance(e, HparamsChanged)]
        assert [c.changes for c in changes] == [{"optim.lr": 0.0003}]
        assert changes[0].frames > 0
        assert not [e for e in read_events(run_dir) if isinstance(e, HparamsRejected)]
        await pilot.press("escape")

        await pilot.press("p")
        await until(pilot, lambda: screen.state == "paused", what="the pause")
        paused_at = shown_frames(app)
        await asyncio.sleep(1.0)
        await pilot.pause(0.2)
        assert shown_frames(app) == paused_at, "frames went on while paused"
        await pilot.press("n")  # one batch, then paused again
        await until(pilot, lambda: shown_frames(app) == paused_at + 128, what="one more batch")
        await asyncio.sleep(0.5)
        await pilot.pause(0.2)
        assert screen.state == "paused" and shown_frames(app) == paused_at + 128
        await pilot.press("p")
        await until(pilot, lambda: shown_frames(app) > paused_at, what="the resume")
        assert screen.state == "running"

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), what="the quit dialog")
        await pilot.press("d")
        await until(pilot, lambda: not app.is_running, what="the app to exit")
    detached_frames = read_summary(run_dir).frames
    assert trainer.poll() is None, "leaving it running stopped the trainer"

    again = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir, attach_dir=run_dir)
    async with again.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(again.screen, TrainScreen) and again.screen.state == "running",
                    what="the attach")
        screen = again.screen
        await until(pilot, lambda: shown_frames(again) > detached_frames, what="live frames after attaching")
        returns = screen.query_one("#charts").curves.series["episode_return"]
        assert returns.xs[0] <= first_frames, "the history before the attach is missing"
        assert "hyperparameters changed" in log_text(again)
        assert screen.query_one("#hp-optim-lr").value == "0.0003"

        await pilot.press("x")
        await until(pilot, lambda: screen.state == "stopped", what="the stop")
        assert not screen.has_live_run
    assert trainer.wait(timeout=30) == 0, "the stopped trainer did not exit cleanly"
    assert read_summary(run_dir).status == "stopped"


@pytest.mark.slow
async def test_a_run_that_fails_says_why_and_the_app_stays_up(runs_dir):
    config = apply_overrides(load_preset("cartpole-dqn"), [*SMALL_RUN, "env.id=NoSuchEnv-v0"])
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen.state == "failed",
                    what="the failure")
        assert "NoSuchEnv-v0" in log_text(app)
        assert app.is_running
        await pilot.press("3")  # the app goes on: other screens still work
        assert app.current_mode == "runs"


def test_chart_history_stays_bounded_over_a_long_run():
    series = DecimatedSeries()
    for step in range(1, 1_000_001):
        series.add(step * 256, float(step % 100))
    assert len(series) <= CAPACITY
    assert series.xs[0] <= 256 * series.span and series.xs[-1] == 256_000_000
    assert sum(series.sums) / sum(series.counts) == pytest.approx(49.5, abs=0.01)
    assert min(series.lows) == 0 and max(series.highs) == 99
    xs, ys = series.points(width=70)
    assert len(xs) <= 70 and xs == sorted(xs)


async def test_the_runs_screen_overlays_marked_runs_and_opens_one(tmp_path, monkeypatch):
    from test_snapshots_train import START, demo_run  # the same fixture run folders

    monkeypatch.chdir(tmp_path)
    runs = Path("runs")
    demo_run(runs, "cartpole-fast", learns=2.0, created=START)
    demo_run(runs, "cartpole-slow", learns=0.5, created=START + 100)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        table = app.screen.query_one(RunList)
        await until(pilot, lambda: table.row_count == 2, what="the run list")
        assert [table.get_row_at(i)[1] for i in range(2)] == ["cartpole-slow", "cartpole-fast"]

        await pilot.press("space", "down", "space")
        overlay = app.screen.query_one("#overlay")
        await until(pilot, lambda: overlay.display and "cartpole-fast" in str(overlay.render()),
                    what="the overlay")
        assert "cartpole-slow" in str(overlay.render())

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen.state == "finished",
                    what="the run to open in Train")
        assert app.current_run_dir.name == "cartpole-fast"
        assert shown_frames(app) == 40_960
        assert "run finished" in log_text(app)
