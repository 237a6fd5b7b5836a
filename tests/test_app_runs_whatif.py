"""The Runs pane answering "what if?": branches under their parent, seed groups with a band and a
score table, a filter on any config field, and the diff of two marked runs."""

from __future__ import annotations

from conftest import screen_text, until, words_on_screen
from helpers import START, demo_run

from tui_rl.config import RunConfig, edit
from tui_rl.engine.runs.folder import read_config, read_summary
from tui_rl.engine.runs.record import save_config, write_run_json
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.runs.run_diff import RunDiffScreen
from tui_rl.tui.screens.runs.run_list import RunList

SIZE = (100, 40)


def edited(run_dir, **changes):
    save_config(run_dir, edit(read_config(run_dir), {k.replace("__", "."): v for k, v in changes.items()}))
    return run_dir


def branch_of(run_dir, parent: str, frames: int):
    summary = read_summary(run_dir)
    summary.parent, summary.parent_frames = parent, frames
    write_run_json(run_dir, summary)


def labels(table: RunList) -> list[str]:
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def open_runs(pilot, count: int) -> RunList:
    await pilot.press("3")
    table = pilot.app.screen.query_one(RunList)
    await until(pilot, lambda: table.row_count == count, what=f"{count} rows")
    return table


async def test_branches_sit_under_their_parent_and_a_filter_finds_runs_by_any_field(tmp_path):
    runs = tmp_path / "runs"
    demo_run(runs, "base", learns=1.0, created=START)
    edited(demo_run(runs, "other", learns=0.5, created=START + 50), optim__lr=0.0003)
    branch_of(edited(demo_run(runs, "base-b20480", learns=1.5, created=START + 100), optim__lr=0.0005), "base", 20_480)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, 3)
        assert labels(table) == ["other", "base", "└ base-b20480"]

        await pilot.press("slash")
        await pilot.press(*"optim.lr<0.001", "enter")
        await until(pilot, lambda: table.row_count == 2, what="the filtered list")
        assert labels(table) == ["base-b20480", "other"]  # its parent filtered out: a root now
        assert "2 of 3 match optim.lr<0.001" in words_on_screen(app)

        field = app.screen.query_one("#runs-filter")
        field.focus()
        field.value = ""
        await pilot.press(*"optim.lrr<1", "enter")
        await until(pilot, lambda: "no run has a field optim.lrr" in words_on_screen(app), what="the typo said")


async def test_a_seed_group_draws_its_band_and_scores_and_two_runs_show_their_diff(tmp_path):
    runs = tmp_path / "runs"
    for seed in range(5):
        run = demo_run(runs, f"tiny-seed{seed}", learns=0.6 + 0.2 * seed, created=START + seed)
        edited(run, env__seed=seed)
    edited(demo_run(runs, "fast-lr", learns=2.0, created=START + 10), optim__lr=0.003, optim__max_grad_norm=5.0)
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, 7)
        assert labels(table)[:2] == ["fast-lr", "◆ tiny ×5"]
        assert labels(table)[2:] == [f"└ tiny-seed{s}" for s in (4, 3, 2, 1, 0)]

        await pilot.press("down", "space")  # the group alone: its band and its score table
        group_table = app.screen.query_one("#group-table")
        await until(pilot, lambda: group_table.display and "final mean" in screen_text(app), what="the scores")
        overlay = app.screen.query_one("#overlay")
        await until(pilot, lambda: "tiny (mean)" in str(overlay.render()), what="the group's curve")
        plotted = [line.partition("┤")[2] or line.partition("│")[2] for line in str(overlay.render()).splitlines()]
        assert any("░" in line for line in plotted), "the band is not shaded"
        assert not any("." in line for line in plotted), "dotted strokes on the chart"

        await pilot.press("space", "up", "space", "down", "down", "space")  # fast-lr and tiny-seed4
        await pilot.press("equals_sign")
        await until(pilot, lambda: isinstance(app.screen, RunDiffScreen), what="the diff")
        diff = app.screen.query_one("#config-diff")
        await until(pilot, lambda: diff.row_count >= 3, what="the differing fields")
        rows = {str(diff.get_row_at(i)[0]): [str(c) for c in diff.get_row_at(i)[1:]] for i in range(diff.row_count)}
        assert rows["optim.lr"] == ["0.003", "0.001"] and rows["env.seed"] == ["0", "4"]
        assert rows["optim.max_grad_norm"] == ["5.0", "10.0"] and "network.hidden_sizes" not in rows
        assert "live edits of fast-lr" in words_on_screen(app)
        await until(pilot, lambda: "tiny-seed4" in str(app.screen.query_one("#overlay").render()), what="both curves")
