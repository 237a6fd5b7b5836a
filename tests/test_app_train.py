"""The Train screen (and the app around it), driven like a user at 80x24.

The slow tests run a real trainer process on a tiny budget: start a run, watch the counter and the
chart move, change the learning rate live, pause and resume, stop and continue it, quit leaving it
running, then attach again and find the whole history. The others open fixture run folders (no
trainer) and check what the screen says.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import (
    PIP_REASON,
    Posted,
    arrive,
    asks,
    footer,
    renderable_text,
    screen_text,
    settle,
    toasts,
    until,
    words_on_screen,
)
from helpers import SMALL_RUN, START, log_text, shown_frames, state_of, type_into

from tui_rl.config import RunConfig, apply_overrides, load_preset
from tui_rl.engine.protocol import HparamsChanged, HparamsRejected, StatusChanged, Undone
from tui_rl.engine.runs.record import append_event
from tui_rl.engine.runs.folder import read_events, read_history, read_summary
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.hangup import HangupWatch
from tui_rl.tui.messages import ContinueRun, RunShown, StartRun
from tui_rl.tui.screens.confirm import ConfirmScreen
from tui_rl.tui.screens.quit import QuitScreen
from tui_rl.tui.screens.train.screen import TrainScreen
from tui_rl.tui.widgets.metric_series import CAPACITY, DecimatedSeries
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.screens.runs.run_list import RunList
from tui_rl.tui.widgets.status_line import RunProgress, describe_figures

SMALL = (80, 24)
def chart_text(app) -> str:
    """The chart on screen (at 80x24 one is shown at a time)."""
    return str(app.screen.query_one("#charts").viewer.render())


# ---- with a real trainer ---------------------------------------------------------------------


@pytest.mark.slow
async def test_a_user_trains_tunes_pauses_detaches_and_attaches_again(runs_dir):
    config = apply_overrides(load_preset("cartpole-dqn"), SMALL_RUN)
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    posted = Posted()
    async with app.run_test(size=SMALL, message_hook=posted) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: state_of(app) == "running", what="the run to start")
        screen = app.screen
        assert [m.config for m in posted.of(StartRun)] == [config]
        await until(pilot, lambda: shown_frames(app) > 0, what="frames")
        first_frames, first_chart = shown_frames(app), chart_text(app)
        await until(pilot, lambda: shown_frames(app) > first_frames + 1_000, what="more frames")
        await until(pilot, lambda: chart_text(app) != first_chart, what="the chart to change")
        run_dir, trainer = app.current_run_dir, screen.handle.process
        assert run_dir.parent == runs_dir.resolve() and run_dir.name.startswith("cartpole-dqn-")
        assert [m.run_dir for m in posted.of(RunShown)] == [run_dir]

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
        await until(pilot, lambda: "p Pause" in footer(app) and "Resume" not in footer(app), what="p Pause")

        await pilot.press("p")
        await until(pilot, lambda: screen.state == "paused", what="the pause")
        await until(pilot, lambda: "p Resume" in footer(app) and "Pause" not in footer(app), what="p Resume")
        assert "n Step" in footer(app) and "q Quit" in footer(app), "the paused footer is cut at 80 columns"
        paused_at = shown_frames(app)
        await pilot.press("n")  # one batch, then paused again
        await until(pilot, lambda: shown_frames(app) >= paused_at + 128, what="one more batch")
        await until(pilot, lambda: screen.state == "paused", what="paused again after the step")
        assert shown_frames(app) == paused_at + 128, "more than one batch ran on a step"

        await pilot.press("q")  # the quit dialog knows the run is paused, not training
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), what="the quit dialog")
        assert "is paused" in words_on_screen(app) and "still training" not in words_on_screen(app)
        await pilot.press("escape")

        await pilot.press("p")
        await until(pilot, lambda: shown_frames(app) > paused_at + 128, what="the resume")
        assert screen.state == "running"
        # Wait for an episode to end, so the history before the detach has a return to bring back.
        await until(pilot, lambda: "episode_return" in screen.charts.curves.series, what="an episode")

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen), what="the quit dialog")
        await pilot.press("d")
        await until(pilot, lambda: not app.is_running, what="the app to exit")
    detached_frames = read_summary(run_dir).frames
    assert trainer.poll() is None, "leaving it running stopped the trainer"

    again = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir, attach_dir=run_dir)
    async with again.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: state_of(again) == "running", what="the attach")
        screen = again.screen
        await until(pilot, lambda: shown_frames(again) > detached_frames, what="live frames after attaching")
        returns = screen.query_one("#charts").curves.series["episode_return"]
        first_on_disk = read_history(run_dir).metrics["episode_return"][0][0]
        assert first_on_disk <= detached_frames
        assert returns.xs[0] == first_on_disk, "the history before the attach is missing"
        assert "hyperparameters changed" in log_text(again)
        assert screen.query_one("#hp-optim-lr").value == "0.0003"

        await pilot.press("x")  # asks first
        await until(pilot, lambda: isinstance(again.screen, ConfirmScreen), what="the stop question")
        await pilot.press("escape")
        await until(pilot, lambda: again.screen is screen, what="the question to close")
        assert screen.has_live_run, "a cancelled stop stopped the run"
        await pilot.press("x")
        await until(pilot, lambda: isinstance(again.screen, ConfirmScreen), what="the stop question")
        await pilot.press("y")
        await until(pilot, lambda: screen.state == "stopped", what="the stop")
        assert not screen.has_live_run
    assert trainer.wait(timeout=60) == 0, "the stopped trainer did not exit cleanly"
    assert read_summary(run_dir).status == "stopped"


@pytest.mark.slow
async def test_a_stopped_run_continues_from_train_and_from_runs(runs_dir):
    config = apply_overrides(load_preset("cartpole-dqn"), SMALL_RUN)
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    posted = Posted()

    async def stop(pilot) -> None:
        await pilot.press("x")
        await until(pilot, lambda: asks(app), what="the stop question")
        await pilot.press("y")
        await until(pilot, lambda: state_of(app) == "stopped", what="the stop")

    async with app.run_test(size=SMALL, message_hook=posted) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: state_of(app) == "running" and shown_frames(app) > 0, what="frames")
        run_dir = app.current_run_dir
        await stop(pilot)
        stopped_at = read_summary(run_dir).frames
        await until(pilot, lambda: "r Continue" in footer(app), what="r Continue")

        await pilot.press("r")  # from Train
        await until(pilot, lambda: state_of(app) == "running" and shown_frames(app) > stopped_at,
                    what="the run to go on")
        assert [m.run_dir for m in posted.of(ContinueRun)] == [run_dir]
        assert app.current_run_dir == run_dir and len(list(runs_dir.iterdir())) == 1
        await stop(pilot)
        stopped_again = read_summary(run_dir).frames

        await pilot.press("3")  # from Runs
        table = app.screen.query_one(RunList)
        await until(pilot, lambda: table.row_count == 1, what="the run list")
        await pilot.press("r")
        await until(pilot, lambda: state_of(app) == "running" and shown_frames(app) > stopped_again,
                    what="the run to go on again")
        assert [m.run_dir for m in posted.of(ContinueRun)] == [run_dir, run_dir]
        await stop(pilot)


async def test_a_continued_run_shows_neither_its_old_reason_nor_the_time_it_stood_ended(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs,
                   attach_dir=demo_runs / "cartpole-fast")  # trained 19 s, finished at its target
    async with app.run_test(size=SMALL) as pilot:
        def status() -> str:  # the status line, and a reason under it
            return " ".join(screen_text(app).splitlines()[1:3])

        await until(pilot, lambda: "reached the target 195" in status(), what="the finished run's reason")
        now = time.time()  # continued years after it finished, 5 s ago
        arrive(app.screen, StatusChanged("starting", total_frames=81_920, frames=40_960, time=now - 5),
               StatusChanged("running", total_frames=81_920, frames=40_960, time=now - 4))
        await until(pilot, lambda: "RUNNING" in status(), what="the run going on")
        assert "reached the target" not in status()
        assert re.search(r"│ 0:[2-5]\d ", status()), f"not the 19 s trained and the 5 s since: {status()}"


@pytest.mark.slow
async def test_a_config_that_cannot_be_built_is_refused_before_any_run_folder(runs_dir):
    config = apply_overrides(load_preset("cartpole-dqn"), [*SMALL_RUN, "env.id=NoSuchEnv-v0"])
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    posted = Posted()
    async with app.run_test(size=SMALL, message_hook=posted, notifications=True) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: "Starting a dqn run on NoSuchEnv-v0…" in toasts(app), what="word that s was taken")
        await until(pilot, lambda: "cannot start" in log_text(app), what="the refusal")
        assert len(posted.of(StartRun)) == 1
        assert "env.id" in log_text(app) and "NoSuchEnv-v0" in log_text(app)
        assert state_of(app) == "idle" and "NOT STARTED" in screen_text(app)
        assert not runs_dir.exists() or not list(runs_dir.iterdir()), "a refused run left a folder"
        assert app.current_run_dir is None and not posted.of(RunShown)
        assert app.is_running
        await pilot.press("3")  # the app goes on: other screens still work
        assert app.current_mode == "runs"


# ---- fixture runs (no trainer) ---------------------------------------------------------------


async def test_a_failed_run_says_its_whole_reason_at_80_columns(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs,
                   attach_dir=demo_runs / "cartpole-failed")
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await until(pilot, lambda: state_of(app) == "failed", what="the failed run")
        await settle(pilot)
        shown = words_on_screen(app)
        assert PIP_REASON in shown, "the status line or the log cut or ate the reason"
        await until(pilot, lambda: "r Continue" in footer(app), what="r Continue")

        # A live failure's toast keeps the brackets too (markup is never read from data).
        app.screen.view.apply(StatusChanged("failed", PIP_REASON + " (live)", frames=40_960, time=START + 30))
        await until(pilot, lambda: PIP_REASON + " (live)" in toasts(app), what="the toast")


async def test_e_without_a_run_opens_the_hyperparameters_and_escape_closes_them():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, TrainScreen), what="the Train screen")
        await pilot.press("e")
        await until(pilot, lambda: "Live hyperparameters" in screen_text(app), what="the pane")
        await pilot.press("escape")
        await until(pilot, lambda: "Live hyperparameters" not in screen_text(app), what="the pane to close")


async def test_long_log_lines_wrap_under_their_message():
    app = TuiRlApp(RunConfig())
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        log = app.screen.query_one(EventLog)
        message = "a reason long enough to wrap at eighty columns " * 3 + "END"
        log.add_line("error", message, frames=123_456)
        await settle(pilot)
        lines = [line.text.rstrip() for line in log.lines]
        assert lines[0].startswith("  123,456 a reason")
        assert len(lines) > 1 and all(line.startswith(" " * 10) and line[10] != " " for line in lines[1:])
        assert " ".join(line.strip() for line in lines).endswith("END")
        assert max(len(line) for line in lines) <= log.scrollable_content_region.width


async def test_a_finished_run_says_why_it_ended_and_labels_its_live_edits(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs,
                   attach_dir=demo_runs / "cartpole-fast")
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: state_of(app) == "finished", what="the finished run")
        await settle(pilot)
        await until(pilot, lambda: "lr=0.0003" in chart_text(app), what="the live-edit marker's label")
        assert "evaluation return 199.2 reached the target 195" in words_on_screen(app)
        note = str(app.screen.query_one("#hp-note").render())
        assert "not live" in note and "Applied" not in note

        for _ in range(6):  # Return -> ... -> LR, the seventh tab
            await pilot.press("right_square_bracket")
        await until(pilot, lambda: "Learning rate" in chart_text(app), what="the LR chart")


async def test_an_edit_and_its_undo_at_one_frame_keep_both_labels_whole(demo_runs):
    run_dir = demo_runs / "cartpole-fast"  # lr=0.0003 at 15,360 frames, then undone there
    seq = max(event.seq for event in read_events(run_dir)) + 1
    append_event(run_dir, Undone({"optim.lr": 0.001}, seq=seq, frames=15_360, time=START + 9))
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs, attach_dir=run_dir)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: state_of(app) == "finished", what="the finished run")
        await until(pilot, lambda: "▏undo" in chart_text(app), what="the undo marker")
        assert "▏lr=0.0003" in chart_text(app), "the undo label was written over the edit's"


async def test_overlaid_curves_differ_without_colour(demo_runs, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs,
                   attach_dir=demo_runs / "cartpole-fast")
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: state_of(app) == "finished", what="the finished run")
        await settle(pilot)
        await until(pilot, lambda: "raw" in chart_text(app) and "mean of 20" in chart_text(app), what="the legend")
        legend = {}
        for line in chart_text(app).splitlines():
            for label in ("raw", "mean of 20"):
                if label in line:
                    legend[label] = line.split(label)[0].rstrip().split()[-1]
        assert app.no_color and len(legend) == 2
        assert legend["raw"] != legend["mean of 20"], f"both curves drawn with {legend['raw']!r}"


# ---- units -----------------------------------------------------------------------------------


def test_the_clock_stops_while_paused_and_progress_never_passes_100():
    progress = RunProgress(state="paused", frames=41_000, total_frames=40_000, started=0.0,
                           paused_seconds=5.0, paused_since=60.0)
    assert progress.elapsed(now=600.0) == 55.0
    shown = renderable_text(describe_figures(progress, now=600.0))
    assert "0:55" in shown and "100%" in shown and "102%" not in shown
    ended = RunProgress(state="stopped", started=0.0, ended=100.0, paused_seconds=30.0)
    assert ended.elapsed(now=1e9) == 70.0


def test_runs_are_named_after_the_preset_only_while_it_trains_the_same_thing():
    config = load_preset("cartpole-dqn")
    app = TuiRlApp(config, preset_name="cartpole-dqn")
    assert app.run_preset(apply_overrides(config, ["optim.lr=0.01"])) == "cartpole-dqn"
    assert app.run_preset(apply_overrides(config, ["env.id=Acrobot-v1"])) == ""


def test_a_hung_up_terminal_counts_as_a_hangup():
    # What `make run` leaves the app when tmux goes: no SIGHUP, a terminal hung up under it.
    master, slave = pty.openpty()
    hung_up = threading.Event()
    watch = HangupWatch(hung_up.set)
    try:
        watch.watch_terminal([slave])
        assert not hung_up.wait(0.3), "a live terminal was taken for a lost one"
        os.close(master)
        assert hung_up.wait(30), "the lost terminal went unnoticed"
    finally:
        watch.stop()
        os.close(slave)


def test_sighup_detaches_at_once_without_stopping_the_run():
    # The app is the terminal's session leader (`tui-rl` in an SSH shell): SIGHUP ends it at once,
    # without writing to the dead terminal; the trainer is its own session and goes on.
    script = textwrap.dedent(
        """
        import asyncio, os, signal
        from tui_rl.tui.app import TuiRlApp

        async def main():
            app = TuiRlApp()
            async with app.run_test(size=(80, 24)) as pilot:
                print("up", flush=True)
                os.kill(os.getpid(), signal.SIGHUP)
                try:  # nothing to wait for but the end SIGHUP brings; the ceiling is the test's timeout
                    await asyncio.wait_for(asyncio.Event().wait(), 100)
                except asyncio.TimeoutError:
                    pass
            print("the app outlived its terminal", flush=True)

        asyncio.run(main())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines() == ["up"], result.stderr
    assert result.returncode == 0


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
