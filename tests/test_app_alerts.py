"""Alerts and undo as the user meets them in Train: an alert is a log line, a toast naming the
metric, the frame and what to try, a bell and a chart marker; `u` undoes a live edit."""

from __future__ import annotations

import pytest
from conftest import screen_text, toasts, until
from helpers import SMALL_RUN, START, demo_run, log_text, shown_frames, state_of, type_into

from tui_rl.config import RunConfig, apply_overrides, load_preset
from tui_rl.engine.protocol import Alert, HparamsChanged, Undone
from tui_rl.engine.runs.folder import read_config, read_events
from tui_rl.engine.runs.record import append_event
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.train.screen import TrainScreen
from tui_rl.tui.widgets.charts import frames_label


async def test_an_alert_rings_shows_a_toast_and_stays_in_the_log(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    run = demo_run(runs, "collapsing", learns=1.0, created=START)
    append_event(run, Alert("no_progress", "eval_return", "no new best evaluation return for 5 evaluations",
                            "try another optim.lr in a branch (b)", seq=900, frames=30_720))
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs, attach_dir=run)
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen.state == "finished",
                    what="the run in Train")
        logged = " ".join(log_text(app).split())  # lines wrap in the log
        assert "alert: no new best evaluation return for 5 evaluations. Try: try another optim.lr" in logged
        assert not bells, "a past alert rang again on opening"
        assert (30_720, "! eval_return") in app.screen.charts.curves.markers

        app.screen.view.apply(Alert("entropy_collapse", "entropy", "entropy fell to 0.001 at frame 40960",
                                    "raise algorithm.entropy_coef (live, e)", frames=40_960))
        await until(pilot, lambda: "Alert: entropy collapse" in toasts(app), what="the toast")
        assert "entropy fell to 0.001 at frame 40960" in toasts(app) and bells == [1]


@pytest.mark.slow
async def test_u_undoes_a_live_edit(runs_dir):
    config = apply_overrides(load_preset("cartpole-dqn"), SMALL_RUN)
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: state_of(app) == "running" and shown_frames(app) > 0, what="a live run")
        run_dir = app.current_run_dir
        await pilot.press("e")
        await type_into(pilot, "#hp-optim-lr", "0.0003")
        await until(pilot, lambda: "hyperparameters changed" in log_text(app), what="the edit")
        await pilot.press("escape")
        edited_at = next(e.frames for e in read_events(run_dir) if isinstance(e, HparamsChanged))
        await until(pilot, lambda: shown_frames(app) > edited_at + 500, what="training after the edit")
        await pilot.press("p")  # paused, the count after the undo stays where the undo took it
        await until(pilot, lambda: state_of(app) == "paused", what="the pause")

        await pilot.press("u")
        await until(pilot, lambda: any(isinstance(e, Undone) for e in read_events(run_dir)), what="the undo")
        await until(pilot, lambda: "undid the edit of optim.lr" in log_text(app), what="the undo said")
        assert read_config(run_dir).optim.lr == config.optim.lr
        await until(pilot, lambda: app.screen.query_one("#hp-optim-lr").value == f"{config.optim.lr:g}",
                    what="the panel to show the old value")
        assert next(e for e in read_events(run_dir) if isinstance(e, Undone)).frames == edited_at
        await until(pilot, lambda: shown_frames(app) == edited_at, what="the frame count taken back")
        assert f"{edited_at:,}" in screen_text(app) or frames_label(edited_at) in screen_text(app)
        await pilot.press("x", "y")
        await until(pilot, lambda: state_of(app) == "stopped", what="the stop")
