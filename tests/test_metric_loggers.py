"""TensorBoard and W&B through TorchRL's loggers: every scalar of the CSV history is in the event
files (read by TensorBoard's EventAccumulator) and in the W&B offline run (read from its .wandb file
with wandb's own protobuf records); TensorBoard is flushed on each log; a missing package is
refused before a run starts, naming the extra."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import tiny_dqn, train_run

from tui_rl.engine.runs.folder import read_metrics, read_summary


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})  # 0: keep every point
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def wandb_history(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every W&B offline run under the run folder (a resumed run adds one), merged in order."""
    from tui_rl.engine.runs.wandb_offline import read_history

    merged: dict[str, list[tuple[int, float]]] = {}
    for path in sorted((run_dir / "wandb").glob("wandb/offline-run-*/run-*.wandb")):
        for name, series in read_history(path).items():
            merged.setdefault(name, []).extend(series)
    return merged


def same_series(expected, found, rel: float) -> bool:
    return [f for f, _ in expected] == [f for f, _ in found] and all(
        math.isclose(a, b, rel_tol=rel, abs_tol=1e-9) for (_, a), (_, b) in zip(expected, found)
    )


@pytest.fixture
def logged_run(runs_dir, monkeypatch) -> Path:
    from tui_rl.engine.runs.record import create_run

    monkeypatch.setenv("WANDB_MODE", "offline")  # never the network, whatever the machine says
    config = tiny_dqn("logging.tensorboard=true", "logging.wandb=true")
    run_dir = create_run(config, name="logged", runs_dir=runs_dir)
    train_run(config, run_dir)
    assert read_summary(run_dir).status == "finished"
    return run_dir


def test_tensorboard_and_wandb_hold_every_scalar_of_the_csv_history(logged_run):
    csv = read_metrics(logged_run)
    assert {"episode_return", "loss_qvalue", "eval_return", "epsilon"} <= set(csv)
    board = tensorboard_scalars(logged_run / "tensorboard")
    offline = wandb_history(logged_run)
    for name, series in csv.items():
        assert same_series(series, board.get(name, []), rel=1e-6), f"TensorBoard's {name}"  # float32 there
        assert same_series(series, offline.get(name, []), rel=0), f"W&B's {name}"


def test_a_resumed_run_goes_on_logging_to_the_same_wandb_run(logged_run, monkeypatch):
    from tui_rl.config import apply_overrides
    from tui_rl.engine.runs.folder import read_config

    monkeypatch.setenv("WANDB_MODE", "offline")
    config = apply_overrides(read_config(logged_run), ["collector.total_frames=800"])
    train_run(config, logged_run, from_checkpoint=True)
    assert read_summary(logged_run).status == "finished", read_summary(logged_run).reason
    runs = sorted((logged_run / "wandb").glob("wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 2 and runs[0].name == runs[1].name  # one W&B run id, two sittings
    assert [f for f, _ in wandb_history(logged_run)["episode_return"]] == [f for f, _ in read_metrics(logged_run)["episode_return"]]
    # a copy under another name (a branch) is another W&B run: the checkpoint's id is not forced on it
    copy = logged_run.rename(logged_run.with_name("copy"))
    train_run(apply_overrides(config, ["collector.total_frames=1000"]), copy, from_checkpoint=True)
    assert read_summary(copy).status == "finished", read_summary(copy).reason
    assert len({path.name for path in (copy / "wandb").glob("wandb/offline-run-*/run-*.wandb")}) == 2


def test_values_reach_the_files_while_the_run_is_open(tmp_path, monkeypatch):
    """TensorBoard is flushed on each log (its writer would wait up to 120 s); W&B's writer
    (wandb-core) writes on its own, before the run is closed."""
    from conftest import wait_until

    from tui_rl.config.models import LoggingConfig
    from tui_rl.engine.run.metric_loggers import MetricLoggers

    monkeypatch.setenv("WANDB_MODE", "offline")
    loggers = MetricLoggers(tmp_path, LoggingConfig(tensorboard=True, wandb=True))
    try:
        loggers.log({"episode_return": 12.5}, 300)
        assert tensorboard_scalars(tmp_path / "tensorboard") == {"episode_return": [(300, 12.5)]}
        wait_until(lambda: wandb_history(tmp_path).get("episode_return") == [(300, 12.5)], what="W&B's copy")
    finally:
        loggers.close()


@pytest.mark.parametrize("package", ["tensorboard", "wandb"])
def test_a_logger_whose_package_is_missing_is_refused_before_the_run_naming_the_extra(package, monkeypatch):
    import importlib.util

    from tui_rl.config import ConfigError
    from tui_rl.engine.run.preflight import check_buildable

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else find_spec(name, *a))
    with pytest.raises(ConfigError) as refused:
        check_buildable(tiny_dqn(f"logging.{package}=true"))
    (error,) = refused.value.errors
    assert error.path == f"logging.{package}" and f"pip install 'tui-rl[{package}]'" in error.message
