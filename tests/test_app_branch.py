"""Branching in the app, as a user does it: a live run in Train, `b`, a new checkpoint, an edited
field; the child opens in Train at the parent's frame with the edited value, and both train."""

from __future__ import annotations

import pytest
from conftest import toasts, until
from test_app_train import SMALL, SMALL_RUN, shown_frames, state_of

from tui_rl.config import apply_overrides, load_preset
from tui_rl.engine.runfolder import read_config, read_metrics, read_summary
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.branch import BranchScreen
from tui_rl.tui.screens.confirm import ConfirmScreen
from tui_rl.tui.widgets.hparam_form import control_id


async def set_field(pilot, path: str, text: str) -> None:
    field = pilot.app.screen.query_one(f"#{control_id(path)}")
    field.value = text
    await pilot.pause()


@pytest.mark.slow
async def test_branch_a_live_run_with_a_new_learning_rate_and_both_train(runs_dir):
    config = apply_overrides(load_preset("cartpole-dqn"), SMALL_RUN)
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: state_of(app) == "running" and shown_frames(app) >= 512, what="a live run")
        parent = app.current_run_dir

        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BranchScreen), what="the branch dialog")
        await set_field(pilot, "network.hidden_sizes", "[8]")  # does not fit: asks about fresh networks
        await set_field(pilot, "optim.lr", "0.0005")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the fresh-networks question")
        await pilot.press("escape")  # no: nothing is made
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the question to close")
        assert sorted(p.name for p in runs_dir.iterdir()) == [parent.name]

        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BranchScreen), what="the branch dialog")
        await set_field(pilot, "optim.lr", "0.0005")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: app.current_run_dir != parent, what="the child to open in Train")
        child = app.current_run_dir
        await until(pilot, lambda: state_of(app) == "running", what="the child to train")
        summary = read_summary(child)
        assert summary.parent == parent.name and summary.parent_frames >= 512
        assert read_config(child).optim.lr == 0.0005 and read_config(parent).optim.lr != 0.0005
        assert "Branched" in toasts(app)
        await until(pilot, lambda: shown_frames(app) > summary.parent_frames, what="the child's frames")
        await until(pilot, lambda: read_metrics(child).get("lr"), what="the child's metrics")
        lrs = read_metrics(child)["lr"]
        assert lrs[0][0] > summary.parent_frames and lrs[0][1] == 0.0005, "the child did not start at the branch"
        parent_frames = read_summary(parent).frames
        await until(pilot, lambda: read_summary(parent).frames > parent_frames, what="the parent to train on")
        assert read_summary(parent).status == "running"
