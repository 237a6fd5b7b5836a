"""Snapshots of the Train screen, the Runs screen and the quit dialog, at 80x24 and 160x48.

The runs are fixture folders written with fixed metric values and times (no trainer, no clock), so
every picture is the same on every machine.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import settle

from tui_rl.config import RunConfig
from tui_rl.engine.protocol import Checkpointed, Evaluated, HparamsChanged, Log, StatusChanged
from tui_rl.engine.runfolder import SCALARS_DIR, read_summary
from tui_rl.engine.run_record import append_event, create_run, write_run_json
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.quit import QuitScreen

SIZES = {"small": (80, 24), "large": (160, 48)}
START = 1_700_000_000.0  # a fixed wall-clock time for the fixture runs


def demo_run(
    runs_dir: Path, name: str, *, learns: float, created: float, status: str = "finished", reason: str = ""
) -> Path:
    """A finished CartPole DQN run folder: 40k frames of smooth, made-up but plausible metrics."""
    config = RunConfig()  # the model's defaults (CartPole DQN): preset edits cannot move these pictures
    config.collector.total_frames = 40_960
    run_dir = create_run(config, name=name, runs_dir=runs_dir, preset="cartpole-dqn")
    scalars = run_dir / SCALARS_DIR
    scalars.mkdir(parents=True)
    series: dict[str, list[str]] = {}
    evaluations = []
    for batch in range(1, 161):
        frames = batch * 256
        progress = 1 - math.exp(-frames * learns / 15_000)
        values = {
            "episode_return": 15 + 185 * progress + 12 * math.sin(batch / 3),
            "episode_length": 15 + 185 * progress,
            "loss_qvalue": 0.2 + 1.5 * math.exp(-frames / 8_000) + 0.05 * math.cos(batch),
            "epsilon": max(0.05, 1 - frames / 10_000),
            "fps": 2_400 + 40 * math.sin(batch / 7),
            "lr": 0.001 if frames < 15_360 else 0.0003,
        }
        if frames % 10_240 == 0:
            values["eval_return"] = 20 + 180 * progress
            evaluations.append((frames, values["eval_return"]))
        for metric, value in values.items():
            series.setdefault(metric, []).append(f"{frames},{value}\n")
    for metric, rows in series.items():
        (scalars / f"{metric}.csv").write_text("".join(rows))
    events = [
        StatusChanged("starting", total_frames=40_960, frames=0, time=START),
        StatusChanged("running", total_frames=40_960, frames=0, time=START + 2),
        *(Evaluated(value, 6.0, 10, frames=frames, time=START + frames / 2_400) for frames, value in evaluations),
        HparamsChanged({"optim.lr": 0.0003}, {"optim.lr": 0.001}, frames=15_360, time=START + 8),
        Checkpointed("checkpoints/20480", frames=20_480, time=START + 10),
        Log("replay buffer is full; oldest transitions are overwritten", "warning", frames=25_600, time=START + 12),
        StatusChanged(status, reason, total_frames=40_960, frames=40_960, time=START + 19),
    ]
    events.sort(key=lambda event: event.frames)
    for seq, event in enumerate(events, start=1):
        event.seq = seq
        append_event(run_dir, event)
    summary = read_summary(run_dir)
    summary.status = status
    summary.reason = reason
    summary.frames = 40_960
    summary.best_eval = max(value for _, value in evaluations)
    summary.last_eval = evaluations[-1][1]
    summary.created = created
    summary.updated = created + 19
    summary.train_seconds = 17.0
    write_run_json(run_dir, summary)
    return run_dir


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
    await pilot.pause(0.5)


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
        await pilot.pause(0.3)

    assert snap_compare(app_on_run(runs_dir, "cartpole-fast"), terminal_size=SIZES[size], run_before=ask)
