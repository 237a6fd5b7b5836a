"""The search screen, as a user opens it on a study that a real `tui-rl search` filled: the trials
table, the views, pruning a running trial by hand, stopping the search, saving a trial as a preset
and opening its run in Train."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import Posted, asks, needs, screen_text, toasts, until, words_on_screen
from helpers import TINY_SEARCH

from tui_rl.config import load_file
from tui_rl.config.models import RunConfig
from tui_rl.engine.runs.folder import read_summary
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.messages import OpenRun
from tui_rl.tui.screens.save_preset import SavePresetScreen

SIZE = (100, 34)


@pytest.fixture
def searched(tmp_path):
    """A runs folder holding a study of two finished trials of two seeds each, and a third trial
    RUNNING (asked for here, as a live worker would, so the screen can prune it)."""
    needs("optuna", "optuna")
    runs = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "tui_rl.cli", "search", "cartpole-ppo", "--trials", "2", *TINY_SEARCH, "--seeds-per-trial", "2",
         "--study", "demo",
         "--param", "optim.lr=loguniform(1e-4,1e-2)", "--param", "algorithm.epochs=choice(1,2)",
         "--runs-dir", str(runs)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    from tui_rl.engine.search.study import open_study, worker_id

    study = open_study(runs, "demo")
    running = study.ask()
    running.suggest_float("optim.lr", 1e-4, 1e-2, log=True)
    running.set_user_attr("worker", worker_id())  # this process: alive, so not taken for stale
    return runs, study, running.number


@pytest.mark.slow
async def test_a_user_watches_and_steers_a_search(searched, tmp_path, monkeypatch):
    runs, study, running = searched
    first = study.trials[0]  # two seeds: two tagged runs, and the trial's value is their mean
    assert first.user_attrs["runs"] == ["demo-t000-s0", "demo-t000-s1"]
    seeds = [read_summary(runs / name) for name in first.user_attrs["runs"]]
    assert [s.tags for s in seeds] == [{"study": "demo", "trial": 0}] * 2
    assert first.value == pytest.approx(sum(s.last_eval for s in seeds) / 2)
    monkeypatch.chdir(tmp_path)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs)
    posted = Posted()
    async with app.run_test(size=SIZE, message_hook=posted, notifications=True) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: "Study demo (1 of 1): 2 complete, 1 running" in words_on_screen(app),
                    what="the study")
        assert "Best: trial" in words_on_screen(app)
        cells = ("state", "pruned at", "complete", "running", "lr=", "epochs=", "Best return so far")
        await until(pilot, lambda: all(cell in screen_text(app) for cell in cells), what="the table and the curve")

        await pilot.press("v")
        await until(pilot, lambda: "Slice:" in screen_text(app), what="the slice view")

        # prune by hand: a finished trial cannot be, the running one can
        await pilot.press("up", "up", "p")
        await until(pilot, lambda: "Only a running trial" in toasts(app), what="the refusal")
        await pilot.press("down", "down", "p")
        await until(pilot, lambda: study.user_attrs.get("prune_requested") == [running],
                    what="the prune request in the study")

        await pilot.press("x")
        await until(pilot, lambda: asks(app))
        await pilot.press("y")
        await until(pilot, lambda: study.user_attrs.get("stop_requested") is True, what="the stop request")
        await until(pilot, lambda: "Stopped: no new trials start" in words_on_screen(app))

        # promote trial 0 to a preset through the save-preset dialog
        await pilot.press("up", "up", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SavePresetScreen))
        await pilot.press("enter")
        preset = tmp_path / "cartpole-v1-ppo.toml"  # named after what it trains
        await until(pilot, lambda: preset.exists(), what="the preset file")
        trial = study.trials[0]
        assert load_file(preset).description.startswith("PPO on CartPole-v1 (MLP")
        assert "trial 0 of search demo" in load_file(preset).description
        assert load_file(preset).optim.lr == pytest.approx(trial.params["optim.lr"])
        assert load_file(preset).algorithm.epochs == trial.params["algorithm.epochs"]

        # enter opens the trial's run in Train
        await pilot.press("enter")
        await until(pilot, lambda: posted.of(OpenRun), what="the run to open")
        assert posted.of(OpenRun)[0].run_dir.name == "demo-t000-s0"
        await until(pilot, lambda: app.current_run_dir is not None and app.current_run_dir.name == "demo-t000-s0")


async def test_a_received_study_with_damaged_trial_attributes_still_shows_its_trials(tmp_path):
    """A studies.db from elsewhere may hold any attribute: a frame count that is text showed
    nothing and ended the app; the trial is listed, the others as usual."""
    needs("optuna", "optuna")
    from tui_rl.engine.search.study import create_study

    runs = tmp_path / "runs"
    runs.mkdir()
    study = create_study(runs, "received", {"target": "cartpole-dqn"})
    study.ask().set_user_attr("frames", "many")
    study.ask().set_user_attr("frames", 1200)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: "Study received (1 of 1): 2 running" in words_on_screen(app), what="the study")
        assert "1,200" in screen_text(app) and app.is_running


@pytest.fixture
def told(tmp_path):
    """A runs folder whose study was told three trials' returns (no runs behind them)."""
    needs("optuna", "optuna")
    from tui_rl.engine.search.study import create_study

    runs = tmp_path / "runs"
    runs.mkdir()
    study = create_study(runs, "demo", {})
    for value in (20.0, 35.0, 30.0):
        trial = study.ask()
        trial.suggest_float("optim.lr", 1e-4, 1e-2, log=True)
        study.tell(trial, value)
    return runs


async def test_brackets_turn_the_search_views_and_trials_count_in_whole_numbers(told):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=told)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: "Best return so far" in screen_text(app), what="the best-so-far curve")
        lines = screen_text(app).splitlines()
        axis = lines[next(i for i, line in enumerate(lines) if line.split() == ["trial"]) - 1]
        assert axis.split() == ["0", "1", "2"]  # one tick per trial, none between

        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "Running trials" in screen_text(app), what="the next view")
        await pilot.press("left_square_bracket", "left_square_bracket")
        await until(pilot, lambda: "Slice: optim.lr" in screen_text(app), what="the last view, going round")


async def test_a_prune_request_is_said_at_once_and_a_repeat_waits_for_it(tmp_path, monkeypatch):
    """Reaching the study loads Optuna and opens its database (seconds on a busy machine): `p` says
    at once that the request is under way, and a second `p` meanwhile sends no second request."""
    needs("optuna", "optuna")
    import threading

    from tui_rl.engine.search import study as search_study

    runs = tmp_path / "runs"
    runs.mkdir()
    study = search_study.create_study(runs, "demo", {})
    running = study.ask()
    running.set_user_attr("worker", search_study.worker_id())  # this process: alive, so not stale
    arrived, release = [], threading.Event()

    def slow_request_prune(study, number):
        arrived.append(number)
        release.wait(30)

    monkeypatch.setattr(search_study, "request_prune", slow_request_prune)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs)
    posted = Posted()
    async with app.run_test(size=SIZE, message_hook=posted, notifications=True) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: "1 running" in words_on_screen(app), what="the study")
        await pilot.press("p")
        said = f"Asking the worker of trial {running.number} to prune it…"
        assert posted.notices() == [said]  # at once, before the request reaches the study
        await until(pilot, lambda: said in toasts(app), what="the notice on screen")
        await until(pilot, lambda: arrived, what="the request to reach the study")
        await pilot.press("p")
        await until(pilot, lambda: len(posted.notices()) == 2, what="the answer to the repeat")
        assert posted.notices()[1] == f"{said} is under way: wait for it."
        release.set()
        await app.workers.wait_for_complete([w for w in app.workers if w.group == "search-request"])
        assert arrived == [running.number]  # one request for the two presses
        await pilot.press("p")  # once it is done, the key works again
        await until(pilot, lambda: len(arrived) == 2, what="the next request")
