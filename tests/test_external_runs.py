"""Runs from other tools under the runs folder: a TensorBoard event folder (CleanRL's layout and
tag) and a W&B offline run are listed by `tui-rl runs` and the Runs pane, and their return curves
overlay a tui-rl run's; the TensorBoard copy inside a tui-rl run folder is not listed twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import settle, toasts, until

from tui_rl.cli import main
from tui_rl.config import RunConfig
from tui_rl.engine.runs.external import EXTERNAL, episode_returns, external_summaries

CLEANRL = "cleanrl/CartPole-v1__ppo__1"
#: a W&B offline run as wandb itself writes one, in the folder given
WANDB_WRITER = """
import sys, wandb
run = wandb.init(mode="offline", dir=sys.argv[1], project="elsewhere", id="abc123",
                 settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))
for step in range(1, 4):
    run.log({"episode_return": 100.0 + step, "step": step * 500})
run.finish()
"""


@pytest.fixture(scope="module")
def foreign_runs(tmp_path_factory) -> Path:
    """A tui-rl demo run (with its own TensorBoard copy), a CleanRL-style TensorBoard folder and
    a W&B offline run written by wandb itself."""
    from torch.utils.tensorboard import SummaryWriter

    from helpers import START, demo_run

    runs = tmp_path_factory.mktemp("external") / "runs"
    demo_run(runs, "cartpole-fast", learns=2.0, created=START)
    for folder, tag in ((runs / CLEANRL, "charts/episodic_return"), (runs / "cartpole-fast" / "tensorboard", "episode_return")):
        writer = SummaryWriter(str(folder))
        for step in range(1, 6):
            writer.add_scalar(tag, 10.0 * step, step * 1000)
            writer.add_scalar("losses/value_loss", 1.0 / step, step * 1000)
        writer.close()
    # wandb in a process of its own: it leaves hooks and threads behind in the one that ran it
    subprocess.run([sys.executable, "-c", WANDB_WRITER, str(runs / "sweep")], check=True, timeout=120)
    return runs


def test_external_runs_are_found_with_their_return_series(foreign_runs):
    summaries = {s.name: s for s in external_summaries(foreign_runs)}
    (wandb_name,) = [name for name in summaries if name.startswith("sweep/")]
    assert set(summaries) == {CLEANRL, wandb_name}  # not cartpole-fast/tensorboard: the run's own copy
    assert summaries[CLEANRL].status == EXTERNAL and summaries[CLEANRL].preset == "tensorboard"
    assert (summaries[CLEANRL].frames, summaries[CLEANRL].best_eval) == (5000, 50.0)
    assert summaries[wandb_name].preset == "wandb" and summaries[wandb_name].best_eval == 103.0
    assert episode_returns(foreign_runs / CLEANRL) == [(s * 1000, 10.0 * s) for s in range(1, 6)]
    assert episode_returns(summaries[wandb_name].path) == [(500, 101.0), (1000, 102.0), (1500, 103.0)]


def test_tui_rl_runs_lists_and_shows_them(foreign_runs, capsys):
    assert main(["runs", "--runs-dir", str(foreign_runs), "--json"]) == 0
    listed = {run["name"]: run for run in json.loads(capsys.readouterr().out)}
    assert listed[CLEANRL]["status"] == "external" and "cartpole-fast" in listed
    assert main(["runs", "--runs-dir", str(foreign_runs)]) == 0
    table = capsys.readouterr().out
    assert CLEANRL in table and "5,000" in table
    assert main(["runs", "show", CLEANRL, "--runs-dir", str(foreign_runs), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["series"]["charts/episodic_return"][-1] == [5000, 50.0]


async def test_the_runs_pane_overlays_an_external_curve_on_a_tui_rl_run(foreign_runs):
    from tui_rl.tui.app import TuiRlApp
    from tui_rl.tui.screens.runs.run_list import RunList

    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=foreign_runs)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("3")
        table = app.screen.query_one(RunList)
        await until(pilot, lambda: table.row_count == 3, what="the run list")
        names = [table.get_row_at(i)[1] for i in range(3)]
        assert CLEANRL in names and "cartpole-fast" in names
        for name in ("cartpole-fast", CLEANRL):
            table.move_cursor(row=names.index(name))
            await pilot.press("space")
        overlay = app.screen.query_one("#overlay")
        await until(pilot, lambda: overlay.display and "CartPole-v1__ppo__1" in str(overlay.render()), what="the overlay")
        assert "cartpole-fast" in str(overlay.render())

        await pilot.press("enter")  # the cursor is on the CleanRL run: nothing to open, said why
        await until(pilot, lambda: "from another tool" in toasts(app), what="the notice")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunsScreen" and app.current_run_dir is None  # not opened in Train


def write_wandb_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """A W&B offline run file holding ``rows`` (metric name -> JSON value) as history records,
    framed as wandb frames them (one block: rows must be small)."""
    import zlib

    from wandb.proto.wandb_internal_pb2 import Record

    from tui_rl.engine.runs.wandb_offline import FULL, HEADER, IDENT, MAGIC, RECORD

    data = HEADER.pack(IDENT, MAGIC, 0)
    for row in rows:
        record = Record()
        for key, value_json in row.items():
            item = record.history.item.add()
            item.key, item.value_json = key, value_json
        payload = record.SerializeToString()
        data += RECORD.pack(zlib.crc32(payload, zlib.crc32(bytes((FULL,)))), len(payload), FULL) + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_crafted_wandb_run_is_shown_without_traceback_or_escape_sequences(tmp_path, capsys):
    runs = tmp_path / "runs"
    deep = "[" * 5000 + "]" * 5000  # deeper than Python's JSON parser recurses
    write_wandb_rows(runs / "sweep" / "run-x.wandb", [
        {"deep": deep, "episode_return": "1.0", "_step": "1"},
        {"loss\x1b[2J\x1b]52;c;eA==\x07": "2.0", "episode_return": "3.0", "_step": "2"},
    ])
    assert main(["runs", "show", "sweep", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "episode_return" in out and "\x1b[2J" not in out and "\x07" not in out
