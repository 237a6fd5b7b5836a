"""The time panel's figures: each batch's time split into env steps, policy, transforms, replay
sampling, gradient steps, target updates, evaluation and logging, with CPU and RAM."""

from __future__ import annotations

from conftest import of_type, tiny_dqn, train_run

from tui_rl.engine.run import batch_timing
from tui_rl.engine.protocol import Metrics
from tui_rl.engine.runs.record import create_run


def test_a_run_reports_where_its_batches_time_goes(runs_dir, monkeypatch):
    monkeypatch.setattr(batch_timing, "INTERVAL_S", 0.0)  # a report every batch
    config = tiny_dqn("transforms=[{name='StepCounter'}]")
    trainer, events = train_run(config, create_run(config, name="timed", runs_dir=runs_dir))
    assert trainer.state == "finished"
    reports = [m.values for m in of_type(events, Metrics) if "time_env_step" in m.values]
    assert len(reports) == 6
    learning = reports[-1]
    for section in ("env_step", "policy", "transforms", "replay_add", "replay_sample", "gradient", "target_update", "logging"):
        assert learning[f"time_{section}"] > 0, section
    assert any(r["time_evaluation"] > 0 for r in reports), "the evaluation at 300 frames was not timed"
    assert learning["usage_ram_mb"] > 50 and learning["usage_cpu_percent"] > 0
