"""Metrics are named once (config/metrics.py, and each algorithm's in the registry): a run of each
algorithm logs no metric that is not declared and every one its algorithm declares; what an
algorithm declares is charted on its group's tab; per-worker names are built and parsed by one
declaration; `runs show` groups the series as declared, with their units."""

from __future__ import annotations

import pytest
from conftest import needs, of_type, tiny_dqn, train_run, trained_run

from tui_rl.config import RunConfig
from tui_rl.config.algorithms import ALGORITHMS, logged_metrics
from tui_rl.config.metrics import PER_WORKER, parse_group_metric, parse_worker_metric
from tui_rl.engine.protocol import Metrics

ENV_OF_KIND = {"discrete": "CartPole-v1", "continuous": "Pendulum-v1"}


@pytest.mark.parametrize("name", ALGORITHMS)
def test_a_run_logs_only_declared_metrics_and_every_one_its_algorithm_declares(name, runs_dir, monkeypatch):
    from tui_rl.engine.run import batch_timing
    from tui_rl.engine.runs.folder import read_metrics
    from tui_rl.engine.runs.record import create_run

    monkeypatch.setattr(batch_timing, "INTERVAL_S", 0.0)  # the time panel's figures every batch
    env_id = "mpe/simple_spread" if ALGORITHMS[name].multi_agent else ENV_OF_KIND[ALGORITHMS[name].action_kinds[0]]
    if ALGORITHMS[name].multi_agent:
        needs("mpe2", "pettingzoo")
    config = tiny_dqn(f"algorithm.name={name}", f"env.id={env_id}", "env.max_episode_steps=100")
    run_dir = create_run(config, name=name, runs_dir=runs_dir)
    trainer, events = train_run(config, run_dir)
    assert trainer.state == "finished"
    logged = {key for event in of_type(events, Metrics) for key in event.values} | set(read_metrics(run_dir))

    declared = {metric.name for metric in logged_metrics(name)}
    undeclared = {key for key in logged if key not in declared and not parse_worker_metric(key) and not parse_group_metric(key)}
    assert not undeclared, f"{name} logs {sorted(undeclared)}: declare them in config/algorithms.py"
    own = {metric.name for metric in ALGORITHMS[name].metrics}
    assert own <= logged, f"{name} declares {sorted(own - logged)} but never logs them"


@pytest.mark.parametrize("name", ALGORITHMS)
def test_each_metric_an_algorithm_declares_for_a_chart_is_on_that_charts_tab(name):
    from tui_rl.tui.widgets.charts import CHARTS

    for metric in ALGORITHMS[name].metrics:
        if metric.group.chart:
            chart = next(spec for spec in CHARTS if spec.key == metric.group.key)
            assert chart.tab == metric.group.tab and metric.name in chart.metrics, (name, metric)


async def test_sacs_temperature_and_entropy_are_drawn_on_the_exploration_tab():
    from tui_rl.config.metrics import EXPLORATION
    from tui_rl.tui.app import TuiRlApp
    from tui_rl.tui.widgets.charts import CHARTS

    app = TuiRlApp(RunConfig())
    async with app.run_test(size=(100, 40)) as pilot:
        await app.switch_mode("train")
        await pilot.pause()
        screen = app.screen
        for batch in range(1, 30):
            screen.view.apply(Metrics({"loss_actor": 1 / batch, "alpha": 1 - batch / 40, "entropy": 2 - batch / 20},
                                      seq=batch, frames=batch * 64))
        screen.charts.select(next(spec for spec in CHARTS if spec.key == EXPLORATION.key))
        await pilot.pause()
        drawn = screen.charts.viewer.render().plain
        assert "Exploration" in drawn and "alpha" in drawn and "entropy" in drawn


def test_per_worker_names_parse_back_to_their_worker_and_figure():
    for figure in PER_WORKER:
        assert parse_worker_metric(figure.name(12)) == (12, figure)
    assert parse_worker_metric("worker3_speed") is None
    assert parse_worker_metric("workers_alive") is None


def test_the_collectors_worker_figures_are_declared_per_worker_metrics():
    from tui_rl.engine.run.worker_stats import WorkerTally

    tally = WorkerTally(2)
    tally.worker_versions = [4, None]
    values = tally.values_now([True, False], learner_version=6)
    declared = {metric.name for metric in logged_metrics("dqn")}
    workers = {key: parse_worker_metric(key) for key in values if key not in declared}
    assert workers and all(workers.values()), values
    assert values["worker0_lag"] == 2.0 and values["worker1_alive"] == 0.0


def test_runs_show_groups_the_series_as_the_app_does_with_their_units(runs_dir, capsys):
    from tui_rl.cli import main
    from tui_rl.config.metrics import GROUPS

    assert main(["runs", "show", str(trained_run(runs_dir))]) == 0
    tabs = {group.tab for group in GROUPS}
    group, shown = "", {}  # metric -> (its group's heading, the word after its name)
    for words in (line.split() for line in capsys.readouterr().out.splitlines()):
        if len(words) == 1 and words[0] in tabs:
            group = words[0]
        elif group and len(words) > 2:
            shown.setdefault(words[0], (group, words[1]))
    assert shown["episode_return"] == ("Return", "return") and shown["fps"] == ("Frames/s", "frames/s")
    assert shown["loss_qvalue"][0] == "Losses" and shown["epsilon"][0] == "Exploration"
    assert shown["replay_fill"] == ("Workers", "fraction")
    order = list(shown)
    assert order.index("episode_return") < order.index("loss_qvalue") < order.index("epsilon") < order.index("fps")
