"""Snapshots of the Train screen, the Runs screen and the quit dialog, at 80x24 and 160x48.

The runs are fixture folders written with fixed metric values and times (no trainer, no clock), so
every picture is the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import settle, until
from helpers import START, demo_run

from tui_rl.config import RunConfig
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.quit import QuitScreen
from tui_rl.tui.widgets.charts import MetricChart

SIZES = {"small": (80, 24), "large": (160, 48)}
@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """Three finished runs in ``runs/`` under a fresh working directory (relative paths on screen)."""
    monkeypatch.chdir(tmp_path)
    runs = Path("runs")
    demo_run(runs, "cartpole-fast", learns=2.0, created=START)
    demo_run(runs, "cartpole-slow", learns=0.5, created=START + 100)
    demo_run(runs, "cartpole-stopped", learns=1.0, created=START + 200, status="stopped")
    return runs


def test_train_screen_shows_a_failed_runs_whole_reason_at_80_columns(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = Path("runs")
    demo_run(runs, "cartpole-failed", learns=1.0, created=START, status="failed",
             reason="the tensorboard logger needs its package: pip install 'tui-rl[tensorboard]'")
    assert snap_compare(app_on_run(runs, "cartpole-failed"), terminal_size=SIZES["small"], run_before=settled)


async def settled(pilot) -> None:
    """Let the attach worker, the chart timer and the resize land."""
    await settle(pilot)
    charts = [chart for chart in pilot.app.screen.query(MetricChart) if chart.display]
    await until(pilot, lambda: all(chart.is_up_to_date for chart in charts), what="the charts to catch up")
    await settle(pilot)


def app_on_run(runs_dir: Path, name: str) -> TuiRlApp:
    return TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs_dir,
                    attach_dir=runs_dir / name)


@pytest.mark.parametrize("size", SIZES)
def test_train_screen_shows_a_finished_run(snap_compare, runs_dir, size):
    assert snap_compare(app_on_run(runs_dir, "cartpole-fast"), terminal_size=SIZES[size], run_before=settled)


@pytest.mark.parametrize("size", SIZES)
def test_runs_screen_overlays_two_marked_runs(snap_compare, runs_dir, size):
    async def mark_two(pilot):
        await pilot.press("3")
        await settled(pilot)
        await pilot.press("space", "down", "space")
        await settled(pilot)

    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs_dir)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=mark_two)


@pytest.mark.parametrize("size", SIZES)
def test_quit_dialog(snap_compare, runs_dir, size):
    async def ask(pilot):
        await settled(pilot)
        pilot.app.push_screen(QuitScreen("cartpole-fast"))
        await until(pilot, lambda: isinstance(pilot.app.screen, QuitScreen), what="the quit dialog")
        await settle(pilot)

    assert snap_compare(app_on_run(runs_dir, "cartpole-fast"), terminal_size=SIZES[size], run_before=ask)
