"""Branching in the app, as a user does it: a live run in Train, `b`, a new checkpoint, an edited
field; the child opens in Train at the parent's frame with the edited value, and both train."""

from __future__ import annotations

import pytest
from conftest import PATIENCE_S, asks, toasts, trained_run, until
from helpers import SMALL_RUN, shown_frames, state_of

from tui_rl.config import RunConfig, apply_overrides, load_preset
from tui_rl.engine.runs.folder import read_config, read_metrics, read_summary
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.branch.dialog import BranchScreen
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.screens.runs.run_list import RunList
from tui_rl.tui.widgets.hparam_form import control_id


async def set_field(pilot, path: str, text: str) -> None:
    field = pilot.app.screen.query_one(f"#{control_id(path)}")
    field.value = text
    await pilot.pause()


async def branch_dialog_in_runs(pilot) -> None:
    """Runs (3), then b on its one run: the branch dialog."""
    await pilot.press("3")
    await until(pilot, lambda: pilot.app.screen.query_one(RunList).row_count == 1, what="the run list")
    await pilot.press("b")
    await until(pilot, lambda: isinstance(pilot.app.screen, BranchScreen), what="the branch dialog")


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
        await set_field(pilot, "optim.lr", "0.0005")
        await pilot.press("ctrl+b")
        # the branch is a new process that imports torch and dry-runs the child's first batch while
        # the parent trains beside it: on a loaded machine that is minutes
        await until(pilot, lambda: app.current_run_dir != parent, timeout=3 * PATIENCE_S, what="the child to open in Train")
        child = app.current_run_dir
        await until(pilot, lambda: state_of(app) == "running", what="the child to train")
        summary = read_summary(child)
        assert summary.parent == parent.name and summary.parent_frames >= 512
        assert read_config(child).optim.lr == 0.0005 and read_config(parent).optim.lr != 0.0005
        await until(pilot, lambda: shown_frames(app) > summary.parent_frames, what="the child's frames")
        await until(pilot, lambda: read_metrics(child).get("lr"), what="the child's metrics")
        lrs = read_metrics(child)["lr"]
        assert lrs[0][0] > summary.parent_frames and lrs[0][1] == 0.0005, "the child did not start at the branch"
        parent_frames = read_summary(parent).frames
        await until(pilot, lambda: read_summary(parent).frames > parent_frames, what="the parent to train on")
        assert read_summary(parent).status == "running"


@pytest.mark.slow
async def test_branch_a_finished_run_from_runs_with_a_smaller_network_on_fresh_networks(runs_dir):
    parent = trained_run(runs_dir)  # 512 frames, checkpoints at 256 and 512
    app = TuiRlApp(load_preset("cartpole-dqn"), preset_name="cartpole-dqn", runs_dir=runs_dir)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await branch_dialog_in_runs(pilot)
        await set_field(pilot, "network.hidden_sizes", "[-8]")
        await pilot.press("ctrl+b")  # refused while a field shows a refused value, naming it
        refusal = app.screen.query_one("#branch-error")
        await until(pilot, lambda: "Fix first: network.hidden_sizes" in str(refusal.render()), what="the refusal")
        assert isinstance(app.screen, BranchScreen)
        await set_field(pilot, "network.hidden_sizes", "[8]")
        await set_field(pilot, "collector.total_frames", "1024")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: "Making the branch of tiny at 512 frames…" in toasts(app), what="word of it")
        await until(pilot, lambda: asks(app), what="the fresh-networks question")
        assert "network.hidden_sizes: [8] does not fit" in str(app.screen.query_one("#confirm-detail").render())
        await pilot.press("y")  # the branch is made again, in a process of its own: seconds
        await pilot.press("b")  # an impatient second press makes no second branch
        await until(pilot, lambda: "tiny at 512 frames… is under way" in toasts(app), what="the repeat refused")
        assert not isinstance(app.screen, BranchScreen)
        await until(pilot, lambda: app.current_run_dir not in (None, parent.resolve()), what="the child in Train")
        child = app.current_run_dir
        summary = read_summary(child)
        assert (summary.parent, summary.parent_frames, summary.fresh_networks) == ("tiny", 512, True)
        assert read_config(child).network.hidden_sizes == [8]
        log = app.screen.query_one(EventLog)
        await until(pilot, lambda: "fresh networks" in "\n".join(line.text for line in log.lines), what="the note")
        await until(pilot, lambda: read_summary(child).status == "finished", what="the child to train")
        assert read_metrics(child)["lr"][0][0] > 512
        assert sorted(path.name for path in runs_dir.iterdir() if not path.name.startswith(".")) == sorted(
            ["tiny", child.name])


async def test_b_says_at_once_that_it_branches_and_then_why_it_cannot(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: app.screen.query_one(RunList).row_count == 3, what="the run list")
        await pilot.press("b")
        assert "Branching run cartpole-" in toasts(app)  # at once, while the checkpoints are read
        await until(pilot, lambda: "has no checkpoint to branch from" in toasts(app), what="why not")
        await pilot.press("b")  # that one is over: b is taken again, not refused
        await until(pilot, lambda: toasts(app).count("has no checkpoint") == 2, what="the second answer")
        assert "is under way" not in toasts(app)
