"""The Runs screen at 80x24 over fixture run folders (no trainer): the columns, the overlay of
marked runs, opening one in Train, and continue / delete / archive with their refusals."""

from __future__ import annotations

from conftest import Posted, asks, footer, screen_text, settle, stop_trainers, toasts, until, words_on_screen
from helpers import START, demo_run

from tui_rl.config import RunConfig
from tui_rl.engine.runs.folder import read_summary
from tui_rl.engine.runs.record import write_run_json
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.messages import ContinueRun, OpenRun
from tui_rl.tui.screens.train.run_opening import NOT_CONTINUABLE, can_continue
from tui_rl.tui.screens.confirm import ConfirmScreen
from tui_rl.tui.screens.train.screen import TrainScreen
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.screens.runs.run_list import RunList
from tui_rl.tui.screens.runs.run_comparison import RunComparison
from tui_rl.tui.widgets.status_line import StatusLine

SMALL = (80, 24)


async def open_runs(app, pilot, rows: int) -> list[str]:
    """Press 3 and wait for ``rows`` runs; the screen's lines."""
    await pilot.press("3")
    await until(pilot, lambda: app.screen.query_one(RunList).row_count == rows, what="the run list")
    return screen_text(app).splitlines()


def line_with(lines: list[str], *words: str) -> list[str]:
    return next(line for line in lines if all(word in line for word in words)).split()


def state_of(app) -> str:
    return app.screen.state if isinstance(app.screen, TrainScreen) else ""


async def test_the_runs_screen_overlays_marked_runs_and_opens_one(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    posted = Posted()
    async with app.run_test(size=SMALL, message_hook=posted) as pilot:
        await pilot.press("3")
        table = app.screen.query_one(RunList)
        await until(pilot, lambda: table.row_count == 3, what="the run list")
        assert [table.get_row_at(i)[1] for i in range(3)] == ["cartpole-failed", "cartpole-slow", "cartpole-fast"]

        await pilot.press("down", "space", "down", "space")
        overlay = app.screen.query_one("#overlay")
        await until(pilot, lambda: overlay.display and "cartpole-fast" in str(overlay.render()),
                    what="the overlay")
        assert "cartpole-slow" in str(overlay.render())

        await pilot.press("enter")
        await until(pilot, lambda: state_of(app) == "finished", what="the run to open in Train")
        assert [m.run_dir.name for m in posted.of(OpenRun)] == ["cartpole-fast"]
        assert app.current_run_dir.name == "cartpole-fast"
        assert app.screen.query_one(StatusLine).progress.frames == 40_960
        assert "run finished" in "\n".join(line.text for line in app.screen.query_one(EventLog).lines)


async def test_a_filter_that_hides_marked_runs_takes_them_off_the_chart(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=SMALL) as pilot:
        await open_runs(app, pilot, 3)
        await pilot.press("down", "space", "down", "space")  # cartpole-slow and cartpole-fast
        comparison = app.screen.query_one(RunComparison)
        await until(pilot, lambda: comparison.display, what="the overlay")

        await pilot.press("slash", *"status=failed", "enter")
        await until(pilot, lambda: app.screen.query_one(RunList).row_count == 1, what="the filtered list")
        await until(pilot, lambda: not comparison.display, what="the overlay to go with the marks")
        assert app.screen.query_one(RunList).marked_rows == []


async def test_runs_at_80_columns_show_env_algorithm_and_quit(demo_runs):
    # A default name (preset and time) is the longest usual one: every column still shows whole.
    demo_run(demo_runs, "cartpole-dqn-20261125-102420", learns=1.0, created=START + 400)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=SMALL) as pilot:
        shown = await open_runs(app, pilot, 4)
        assert line_with(shown, "Run", "Status") == ["✓", "Run", "Env", "Algo", "Status", "Frames", "Best"]
        assert line_with(shown, "cartpole-slow")[1:4] == ["CartPole-v1", "dqn", "finished"]
        best = read_summary(demo_runs / "cartpole-dqn-20261125-102420").best_eval
        assert line_with(shown, "cartpole-dqn-20261125-102420") == [
            "cartpole-dqn-20261125-102420", "CartPole-v1", "dqn", "finished", "41k", f"{best:.4g}"]
        await until(pilot, lambda: "q Quit" in footer(app), what="q Quit in the footer")  # drawn after the rows under load


async def test_at_80_columns_a_branch_leaves_out_the_env_but_shows_frames_and_best_whole(demo_runs):
    parent = demo_run(demo_runs, "cartpole-dqn-20261125-102420", learns=1.0, created=START + 400)
    branch = demo_run(demo_runs, "cartpole-dqn-20261125-102420-b20480", learns=1.0, created=START + 500)
    summary = read_summary(branch)
    summary.parent, summary.parent_frames = parent.name, 20_480
    write_run_json(branch, summary)
    best = f"{read_summary(branch).best_eval:.4g}"
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=SMALL) as pilot:
        shown = await open_runs(app, pilot, 5)
        assert line_with(shown, "Run", "Status") == ["✓", "Run", "Algo", "Status", "Frames", "Best"]
        assert line_with(shown, "-b20480") == ["└", "cartpole-dqn-20261125-102420-b20480", "dqn", "finished", "41k", best]

    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=(60, 24)) as pilot:  # narrower still: names shortened in the middle
        row = line_with(await open_runs(app, pilot, 5), "-b20480")
        assert row[-3:] == ["finished", "41k", best] and any("…" in word for word in row)


async def test_delete_and_archive_ask_first(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("3")
        table = app.screen.query_one(RunList)
        await until(pilot, lambda: table.row_count == 3, what="the run list")

        await pilot.press("d")  # the cursor is on cartpole-failed
        await until(pilot, lambda: asks(app), what="the delete question")
        assert "Delete run cartpole-failed?" in words_on_screen(app)
        await pilot.press("escape")
        await settle(pilot)
        assert (demo_runs / "cartpole-failed").is_dir(), "a cancelled delete deleted"

        await pilot.press("d")
        await until(pilot, lambda: asks(app), what="the delete question")
        await pilot.press("y")
        await until(pilot, lambda: table.row_count == 2, what="the list without it")
        assert not (demo_runs / "cartpole-failed").exists()

        await pilot.press("a")  # now on cartpole-slow
        await until(pilot, lambda: asks(app), what="the archive question")
        await pilot.press("y")
        await until(pilot, lambda: table.row_count == 1, what="the list without it")
        assert not (demo_runs / "cartpole-slow").exists()
        assert (demo_runs / "archive" / "cartpole-slow" / "run.json").is_file()


async def test_a_live_run_cannot_be_deleted_and_a_finished_one_not_continued(demo_runs):
    live = demo_run(demo_runs, "cartpole-live", learns=1.0, created=START + 300)
    summary = read_summary(live)
    summary.status = "running"  # no pid: nothing says its trainer is gone
    write_run_json(live, summary)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    posted = Posted()
    async with app.run_test(size=SMALL, message_hook=posted, notifications=True) as pilot:
        await pilot.press("3")
        table = app.screen.query_one(RunList)
        await until(pilot, lambda: table.row_count == 4, what="the run list")
        await pilot.press("d")
        await until(pilot, lambda: "stop it first" in toasts(app), what="the refusal")
        assert not isinstance(app.screen, ConfirmScreen) and live.is_dir()

        await pilot.press("end", "r")  # cartpole-fast: finished
        await until(pilot, lambda: NOT_CONTINUABLE in toasts(app),
                    what="the refusal")
        assert not posted.of(ContinueRun)


async def test_a_run_that_ended_early_at_its_target_can_be_continued(demo_runs):
    solved = demo_run(demo_runs, "cartpole-solved", learns=2.0, created=START + 400,
                      reason="evaluation return 500 reached the target 475 at frame 20480")
    summary = read_summary(solved)
    summary.frames = 20_480  # of a 40,960-frame budget
    write_run_json(solved, summary)
    assert can_continue("finished", 20_480, 40_960) and not can_continue("finished", 40_960, 40_960)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    posted = Posted()
    try:
        async with app.run_test(size=SMALL, message_hook=posted, notifications=True) as pilot:
            await pilot.press("3")
            table = app.screen.query_one(RunList)
            await until(pilot, lambda: table.row_count == 4, what="the run list")
            await pilot.press("home", "r")  # the newest: cartpole-solved
            await until(pilot, lambda: posted.of(ContinueRun), what="the continue request")
            assert posted.of(ContinueRun)[0].run_dir.name == "cartpole-solved"
            assert NOT_CONTINUABLE not in toasts(app)
    finally:
        stop_trainers(demo_runs)
