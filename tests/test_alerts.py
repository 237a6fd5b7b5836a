"""Health alerts: an injected NaN and a forced entropy collapse each raise their alert (naming the
metric, the frame and what to try); with alerts.pause the run pauses; a live edit can be undone."""

from __future__ import annotations

import json
import math

from conftest import of_type, tiny_dqn, train_run

from tui_rl.cli import main
from tui_rl.config import apply_overrides
from tui_rl.engine.run.alerts import HealthWatch
from tui_rl.config.models import AlertsConfig
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.protocol import (
    Alert, Evaluated, HparamsChanged, Metrics, SetHparams, StatusChanged, Undone, UndoEdit,
)
from tui_rl.engine.runs.reproduce import reproduce_text
from tui_rl.engine.runs.diff import live_edits
from tui_rl.engine.runs.folder import read_config, read_events, read_metrics
from tui_rl.engine.runs.record import create_run

TINY_PPO = ["algorithm.name=ppo", "collector.frames_per_batch=100", "collector.total_frames=600",
            "network.hidden_sizes=[16]", "eval.every_frames=300", "eval.episodes=1", "checkpoint.every_frames=300"]


def wrap_updates(trainer, change) -> None:
    """Once the trainer has built its algorithm, pass every update's logged values through ``change``."""
    setup_real = trainer.setup

    def setup():
        setup_real()
        update = trainer.parts.algorithm.update
        trainer.parts.algorithm.update = lambda batch, frames: change(update(batch, frames))

    trainer.setup = setup


def test_an_injected_nan_raises_a_nan_alert_and_fails_the_run(runs_dir):
    config = tiny_dqn()
    run_dir = create_run(config, name="nan", runs_dir=runs_dir)

    def inject(trainer):
        wrap_updates(trainer, lambda values: {**values, "loss_qvalue": math.nan})

    trainer, events = train_run(config, run_dir, before=inject)
    assert trainer.state == "failed"
    (alert,) = of_type(events, Alert)
    assert (alert.kind, alert.metric, alert.frames) == ("nan", "loss_qvalue", 100)
    assert "optim.lr" in alert.action and "frame 100" in alert.message
    assert any(isinstance(e, Alert) for e in read_events(run_dir)), "the alert is not in the events log"


def test_a_forced_entropy_collapse_raises_its_alert_and_pauses_when_asked(runs_dir):
    config = apply_overrides(tiny_dqn(), TINY_PPO + ["alerts.pause=true"])
    run_dir = create_run(config, name="collapse", runs_dir=runs_dir)

    def collapse(trainer):
        scale = iter([1.0] + [1e-4] * 100)  # after the first batch the entropy is all but gone
        wrap_updates(trainer, lambda values: {**values, "entropy": values["entropy"] * next(scale)})

    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, StatusChanged) and event.state == "paused":
            trainer.stop("test done")

    from tui_rl.engine.run.trainer import Trainer

    trainer = Trainer(config, run_dir, on_event)
    collapse(trainer)
    trainer.run()
    (alert,) = [a for a in of_type(events, Alert) if a.kind == "entropy_collapse"]
    assert alert.metric == "entropy" and alert.frames == 200 and alert.paused
    assert "entropy_coef" in alert.action
    assert [e.state for e in of_type(events, StatusChanged)][-2:] == ["paused", "stopped"]


def test_divergence_no_progress_and_target_alerts():
    watch = HealthWatch(AlertsConfig(no_progress_evals=2, divergence=10))
    for frames in range(1, 11):
        assert watch.after_batch({"loss_qvalue": 1.0}, frames) == []
    (diverged,) = watch.after_batch({"loss_qvalue": 50.0}, 11)
    assert (diverged.kind, diverged.metric) == ("divergence", "loss_qvalue") and "frame 11" in diverged.message
    assert watch.after_batch({"loss_qvalue": 80.0}, 12) == [], "an alert fires once"
    counters = RunCounters()
    for mean in (5.0, 4.0):
        assert watch.after_eval(mean, counters, None, 100) == []
    (stuck,) = watch.after_eval(3.0, counters, None, 300)
    assert stuck.kind == "no_progress" and "2 evaluations" in stuck.message
    counters.frames = 400
    counters.record_eval(200.0, 195.0)
    (reached,) = watch.after_eval(200.0, counters, 195.0, 400)
    assert reached.kind == "target_reached" and "frame 400" in reached.message


def test_a_live_edit_takes_a_checkpoint_and_undo_goes_back_to_it(runs_dir, capsys):
    config = tiny_dqn("collector.total_frames=800", "checkpoint.every_frames=100000", "eval.every_frames=200")
    run_dir = create_run(config, name="undo", runs_dir=runs_dir)
    sent = {"edit": False, "undo": False}

    def on_event(event):
        if isinstance(event, Metrics) and event.frames == 300 and not sent["edit"]:
            sent["edit"] = True
            trainer.submit(SetHparams({"optim.lr": 0.0005}))
        elif isinstance(event, Metrics) and event.frames == 500 and not sent["undo"]:
            sent["undo"] = True
            trainer.submit(UndoEdit())

    events = []
    from tui_rl.engine.run.trainer import Trainer

    trainer = Trainer(config, run_dir, lambda e: (events.append(e), on_event(e)))
    assert trainer.run() == "finished"
    (changed,) = of_type(events, HparamsChanged)
    (undone,) = of_type(events, Undone)
    assert changed.frames == 300 and undone.restored == {"optim.lr": 0.001}
    assert undone.frames == 300, "undo did not go back to the frame of the edit"
    assert read_config(run_dir).optim.lr == 0.001
    lrs = read_metrics(run_dir)["lr"]
    assert [f for f, _ in lrs] == sorted(f for f, _ in lrs), "the metrics step backwards after the undo"
    assert all(lr == 0.001 for f, lr in lrs if f > 300)
    # what differs from another run, and the setup line, no longer list the undone edit
    assert live_edits(run_dir) == [] and "changed live" not in reproduce_text(run_dir)

    # Everything logged after the undo reached the metric files (the logger's open ones, not
    # deleted copies), and `runs show` shows it.
    on_disk = read_metrics(run_dir)
    for metrics in of_type([e for e in events if e.seq > undone.seq], Metrics):
        for name in metrics.values:
            assert metrics.frames in {f for f, _ in on_disk[name]}, f"{name} at {metrics.frames} is not on disk"
    evaluations = [e.frames for e in of_type(events, Evaluated) if e.frames <= 300 or e.seq > undone.seq]
    assert evaluations == [200, 400, 600, 800]
    assert [f for f, _ in on_disk["eval_return"]] == evaluations
    capsys.readouterr()  # what the run printed
    assert main(["runs", "show", "undo", "--json", "--runs-dir", str(runs_dir)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [f for f, _ in shown["series"]["eval_return"]] == evaluations
