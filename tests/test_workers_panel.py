"""The Train screen's workers panel (issue 10): hidden for a run without collector workers; once
worker figures arrive it shows each worker's frames/s, whether it is alive and its policy lag, and
the replay buffer's fill, write rate and update-to-data ratio."""

from __future__ import annotations

from conftest import arrive, settle, until, words_on_screen

from tui_rl.config import RunConfig
from tui_rl.engine.protocol import Metrics, StatusChanged
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.train.screen import TrainScreen
from tui_rl.tui.widgets.workers_panel import WorkersPanel

WIDE = (160, 48)


def two_workers(alive_1: float = 1.0) -> dict[str, float]:
    return {
        "loss_qvalue": 0.5, "collect_fps": 2400.0, "workers_alive": 1.0 + alive_1,
        "worker0_fps": 1300.0, "worker0_alive": 1.0, "worker0_lag": 0.0,
        "worker1_fps": 1100.0 * alive_1, "worker1_alive": alive_1, "worker1_lag": 3.0,
        "replay_fill": 0.25, "replay_writes_per_s": 2400.0, "replay_utd": 0.01,
    }


async def test_the_workers_panel_shows_each_worker_and_the_replay_buffer(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs,
                   attach_dir=demo_runs / "cartpole-slow")
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TrainScreen) and app.screen.handle is not None,
                    what="the run on the Train screen")
        await settle(pilot)
        panel = app.screen.query_one(WorkersPanel)
        assert not panel.display, "a run without collector workers shows no workers panel"

        arrive(app.screen, StatusChanged("running", frames=40_960), Metrics(two_workers(), frames=50_000))  # continued
        await until(pilot, lambda: panel.display, what="the workers panel")
        await settle(pilot)
        shown = words_on_screen(app)
        assert "Workers 2/2 alive · collecting 2,400 frames/s" in shown
        assert "1 1,100 yes 3" in shown  # worker 1: frames/s, alive, 3 updates behind
        assert "Replay 25% full · 2,400 writes/s · 0.01 updates/frame" in shown

        arrive(app.screen, Metrics(two_workers(alive_1=0.0), frames=51_000))
        await until(pilot, lambda: "1 0 dead" in words_on_screen(app), what="worker 1 shown dead")
        assert "Workers 1/2 alive" in words_on_screen(app)

        # Stopped, the run has no worker alive or collecting, whatever the last figures said.
        arrive(app.screen, StatusChanged("stopped", "stopped by request", frames=52_000))
        await until(pilot, lambda: "Workers 2: none running, the run stopped" in words_on_screen(app),
                    what="the workers shown ended")
        assert "/2 alive" not in words_on_screen(app) and "collecting" not in words_on_screen(app)
        assert "Replay 25% full · 0.01 updates/frame" in words_on_screen(app)


async def test_an_unreachable_ray_cluster_is_refused_at_start_with_its_address(runs_dir):
    from conftest import Posted

    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.tui.messages import StartRun
    from tui_rl.tui.widgets.event_log import EventLog

    config = apply_overrides(load_preset("cartpole-dqn"), ["collector.backend=ray", "collector.ray_address=127.0.0.1:9"])
    app = TuiRlApp(config, preset_name="cartpole-dqn", runs_dir=runs_dir)
    posted = Posted()
    async with app.run_test(size=WIDE, message_hook=posted) as pilot:
        await pilot.press("s")

        def log_text() -> str:
            screen = app.screen
            return "\n".join(line.text for line in screen.query_one(EventLog).lines) if isinstance(screen, TrainScreen) else ""

        await until(pilot, lambda: "cannot start" in log_text(), what="the refusal")
        assert len(posted.of(StartRun)) == 1
        assert "collector.ray_address" in log_text() and "127.0.0.1:9" in log_text() and "refused" in log_text()
        assert not runs_dir.exists() or not list(runs_dir.iterdir()), "a refused run left a folder"
        assert app.is_running
