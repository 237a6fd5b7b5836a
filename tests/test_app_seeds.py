"""S in the app: the seeds dialog checks what is typed, then the setup trains once per seed (as
`tui-rl train --seeds` does, in a process of its own) and the Runs pane shows the group."""

from __future__ import annotations

import pytest
from conftest import until, words_on_screen
from helpers import TINY_RUN

from tui_rl.config import RunConfig, apply_overrides
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.seeds.dialog import SeedsScreen
from tui_rl.tui.screens.runs.run_list import RunList


@pytest.mark.slow
async def test_s_trains_a_seed_group_that_the_runs_pane_groups(runs_dir):
    config = apply_overrides(RunConfig(), [*TINY_RUN, "collector.total_frames=200"])
    app = TuiRlApp(config, preset_name="tiny", runs_dir=runs_dir)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SeedsScreen), what="the seeds dialog")
        await until(pilot, lambda: "5 runs, one after the other" in words_on_screen(app)
                    or "side by side" in words_on_screen(app), what="the dialog's note")
        field = app.screen.query_one("#seeds-input")
        field.value = "0 x"
        await until(pilot, lambda: "'x' is not a seed" in words_on_screen(app), what="the refusal")
        field.value = "3-4"
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "runs", what="the Runs pane")
        table = app.screen.query_one(RunList)
        await until(pilot, lambda: table.row_count == 3 and all(
            r.run.status == "finished" for r in table.items.values() if r.run is not None), what="the group")
        labels = [str(table.get_row_at(i)[1]) for i in range(3)]
        assert labels[0].startswith("◆ ") and labels[0].endswith("×2")
        assert sorted(label[-6:] for label in labels[1:]) == ["-seed3", "-seed4"]
