"""Collection backends (issue 10): worker processes through TorchRL's multi-process collectors,
their weights, stats, deaths and clean-up, and the bad input around them.

The Ray backend and a real two-node Ray cluster are in test_scale_ray.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import collection, endless_dqn, of_type, tiny_dqn, train_run, wait_for_event, wait_until

from tui_rl.config import ConfigError, RunConfig, apply_overrides
from tui_rl.engine.protocol import Checkpointed, HparamsChanged, Log, Metrics, StatusChanged

#: what the issue allows workers to take to notice their trainer is gone
ORPHAN_LIMIT_S = 10.0


def processes(*overrides: str) -> list[str]:
    return ["collector.backend=processes", "collector.workers=2", *overrides]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids of ``pids`` that still run (zombies count as gone: they hold no resources)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def worker_pids(handle, workers: int) -> set[int]:
    """The collector worker processes under a spawned trainer, once all have started."""
    from tui_rl.engine.runs.folder import read_summary

    pid = read_summary(handle.run_dir).pid

    def spawned() -> set[int]:
        found = {p for p in descendants(pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()}
        return found if len(found) >= workers else set()

    return wait_until(spawned, what=f"{workers} worker processes under the trainer")


def metrics_with(key: str):
    return lambda event: isinstance(event, Metrics) and key in event.values


# ---- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (["collector.workers=2"], "collector.workers", "single backend"),
        (processes("collector.workers=3", "collector.frames_per_batch=100"), "collector.frames_per_batch", "3 workers"),
        (["collector.backend=ray", "collector.ray_address=nowhere"], "collector.ray_address", "host:port"),
    ],
)
def test_collector_fields_refuse_what_cannot_run(overrides, field, words):
    with pytest.raises(ConfigError) as caught:
        apply_overrides(RunConfig(), overrides)
    assert caught.value.errors[0].path == field
    assert words in caught.value.errors[0].message


def test_cuda_without_a_gpu_is_refused_up_front():
    from tui_rl.engine.run.preflight import check_buildable

    with pytest.raises(ConfigError) as caught:
        check_buildable(apply_overrides(RunConfig(), ["device=cuda"]))
    assert caught.value.errors[0].path == "device"
    assert "no CUDA device" in str(caught.value)


def test_more_workers_than_cores_is_a_warning_that_says_so():
    from tui_rl.engine.run import machine
    from tui_rl.engine.run.preflight import check_buildable, collector_warnings

    many = machine.cores() + 2
    config = apply_overrides(RunConfig(), processes(f"collector.workers={many}", f"collector.frames_per_batch={many * 10}"))
    check_buildable(config)  # allowed
    (warning,) = collector_warnings(config)
    assert f"collector.workers = {many} on {machine.cores()} CPU cores" in warning
    assert collector_warnings(apply_overrides(RunConfig(), processes())) == []


@pytest.mark.parametrize("address", ["127.0.0.1:9", "ray://10.255.255.1:10001"])
def test_an_unreachable_ray_address_fails_within_10_s_naming_it_and_why(address):
    from tui_rl.engine.run.preflight import check_buildable

    config = apply_overrides(RunConfig(), ["collector.backend=ray", f"collector.ray_address={address}"])
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        check_buildable(config)
    assert time.monotonic() - started < 10
    (error,) = caught.value.errors
    assert error.path == "collector.ray_address"
    assert address in error.message
    assert "refused" in error.message or "not as a Ray server" in error.message or "no Ray server" in error.message


def test_headless_train_with_an_unreachable_ray_address_exits_2(runs_dir):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tui_rl.cli", "train", "cartpole-dqn", "--runs-dir", str(runs_dir),
         "--set", "collector.backend=ray", "--set", "collector.ray_address=127.0.0.1:9"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "127.0.0.1:9" in result.stderr and "refused" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60  # interpreter and torch start-up included


# ---- training with worker processes ----------------------------------------------------------


@pytest.mark.slow
def test_async_workers_train_a_preset_and_report_each_worker(runs_dir):
    from tui_rl.engine.runs.record import create_run

    config = tiny_dqn(*processes("collector.sync=false", "collector.total_frames=1000", "env.num_envs=4"))
    trainer, events = train_run(config, create_run(config, name="async", runs_dir=runs_dir))
    assert trainer.state == "finished", trainer.reason
    assert trainer.counters.frames >= 1000
    last = of_type(events, Metrics)[-1].values
    assert last["workers_alive"] == 2
    assert trainer.parts.collector.tally.worker_frames[0] > 0 and trainer.parts.collector.tally.worker_frames[1] > 0
    assert {"worker0_fps", "worker1_fps", "replay_fill", "collect_fps"} <= set(last)
    # The figures are recomputed once a second, so the last ones may predate a worker's first
    # versioned batch; the tally itself has seen both workers' policy versions by the end.
    tally = trainer.parts.collector.tally
    assert None not in tally.worker_versions
    assert {"worker0_lag", "worker1_lag"} <= set(tally.values_now([True, True], max(tally.worker_versions)))


@pytest.mark.slow
def test_worker_processes_go_through_pause_lr_checkpoint_stop_and_resume_and_leave_nothing(runs_dir):
    from tui_rl.engine.channel.handle import RunHandle

    handle = RunHandle.start(endless_dqn(*processes()), name="procs", runs_dir=runs_dir)
    workers = worker_pids(handle, 2)
    event, _ = wait_for_event(handle, metrics_with("worker1_fps"))
    assert event.values["workers_alive"] == 2 and event.values["worker0_lag"] == 0  # sync: weights before each batch
    handle.pause()
    wait_for_event(handle, lambda e: isinstance(e, StatusChanged) and e.state == "paused")
    handle.set_hparams({"optim.lr": 5e-4})
    wait_for_event(handle, lambda e: isinstance(e, HparamsChanged) and e.changes == {"optim.lr": 5e-4})
    handle.checkpoint()
    wait_for_event(handle, lambda e: isinstance(e, Checkpointed))
    handle.resume()
    wait_for_event(handle, lambda e: isinstance(e, Metrics) and e.values.get("lr") == 5e-4)
    handle.stop()
    stopped, _ = wait_for_event(handle, lambda e: isinstance(e, StatusChanged) and e.state == "stopped")
    wait_until(lambda: handle.process.poll() is not None, what="the trainer to exit")
    assert alive(workers) == set(), "worker processes outlived a stopped run"

    again = RunHandle.continue_run(handle.run_dir)
    wait_for_event(again, lambda e: isinstance(e, Log) and "resumed from the checkpoint" in e.message)
    event, _ = wait_for_event(again, lambda e: isinstance(e, Metrics) and e.frames > stopped.frames)
    assert event.values["lr"] == 5e-4
    more = worker_pids(again, 2)
    again.stop()
    wait_until(lambda: again.process.poll() is not None, what="the resumed trainer to exit")
    assert alive(more) == set()


@pytest.mark.slow
def test_a_killed_worker_is_reported_and_the_run_fails_cleanly_with_its_checkpoint(runs_dir):
    from tui_rl.engine.runs.checkpoints import CheckpointStore
    from tui_rl.engine.channel.handle import RunHandle

    handle = RunHandle.start(endless_dqn(*processes()), name="killed", runs_dir=runs_dir)
    workers = sorted(worker_pids(handle, 2))
    wait_for_event(handle, metrics_with("worker1_fps"))
    handle.checkpoint()
    wait_for_event(handle, lambda e: isinstance(e, Checkpointed))
    os.kill(workers[-1], signal.SIGKILL)
    failed, _ = wait_for_event(handle, lambda e: isinstance(e, StatusChanged) and e.state in ("failed", "stopped"))
    assert failed.state == "failed"
    assert "worker" in failed.reason and "SIGKILL" in failed.reason and "checkpoint kept" in failed.reason
    wait_until(lambda: handle.process.poll() is not None, what="the trainer to exit")
    assert alive(set(workers)) == set()
    assert CheckpointStore(handle.run_dir, 2).latest() is not None


@pytest.mark.slow
def test_workers_exit_within_10_s_when_their_trainer_is_killed(runs_dir):
    from tui_rl.engine.channel.handle import RunHandle
    from tui_rl.engine.runs.folder import read_summary

    handle = RunHandle.start(endless_dqn(*processes()), name="orphans", runs_dir=runs_dir)
    wait_for_event(handle, metrics_with("worker1_fps"))
    pid = read_summary(handle.run_dir).pid
    below = descendants(pid)
    assert len(below) >= 2
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: not alive(below), timeout=ORPHAN_LIMIT_S + 5, what="the workers to exit")
    assert time.monotonic() - killed < ORPHAN_LIMIT_S, "the workers took longer than 10 s to notice"


# ---- the workers panel's figures: TorchRL's stats() where asking is safe, batch tags elsewhere ---


def figures_after_two_looks(found, batches) -> dict[str, float]:
    """The collection's figures once it has been looked at twice, collecting between the looks as
    the trainer does."""
    found.stats()
    return wait_until(lambda: next(batches) is not None and found.tally.due() and found.stats(), what="the second look")


def test_the_single_collectors_rate_comes_from_its_stats():
    found, env = collection()
    batches = iter(found)
    try:
        values = figures_after_two_looks(found, batches)
        assert values["collect_fps"] > 0 and "workers_alive" not in values
        assert found.tally.frames == found.collector.stats()["frames"] > 0
    finally:
        found.shutdown()
        env.close()


@pytest.mark.slow
def test_sync_workers_figures_come_from_torchrls_per_worker_stats():
    from tui_rl.engine.run.worker_stats import WORKER_KEY

    found, env = collection(*processes())
    batches = iter(found)
    try:
        assert WORKER_KEY not in next(batches).keys(), "sync workers are asked, their frames carry no tags"
        values = figures_after_two_looks(found, batches)
        asked = found.collector.stats(workers="per_worker")  # idle workers between batches: safe
        assert found.tally.worker_frames == [asked["worker_0/frames"], asked["worker_1/frames"]]
        assert found.tally.worker_versions == [asked["worker_0/policy_version"], asked["worker_1/policy_version"]]
        assert values["workers_alive"] == 2 and values["worker0_fps"] > 0 and values["worker1_fps"] > 0
        assert values["worker0_lag"] == values["worker1_lag"] == 0  # weights before each batch
    finally:
        found.shutdown()
        env.close()


@pytest.mark.slow
def test_async_workers_are_not_asked_mid_batch_their_figures_come_from_batch_tags():
    found, env = collection(*processes("collector.sync=false"))
    asked = []
    ask = found.collector.map_fn  # how a multi-process collector asks its workers (stats per worker too)
    found.collector.map_fn = lambda *args, **kwargs: asked.append(args) or ask(*args, **kwargs)
    batches = iter(found)
    try:
        values = figures_after_two_looks(found, batches)
        assert asked == [], "an async worker was asked something mid-batch"
        assert values["workers_alive"] == 2 and values["worker0_fps"] + values["worker1_fps"] > 0
        assert found.tally.frames == found.collector.stats()["frames"]  # the aggregate is still TorchRL's
    finally:
        found.shutdown()
        env.close()


def test_replay_figures_come_from_the_buffers_stats():
    import torch
    from torchrl.data import LazyTensorStorage, ReplayBuffer

    from tui_rl.engine.run.worker_stats import ReplayTally

    buffer = ReplayBuffer(storage=LazyTensorStorage(400))
    config = tiny_dqn()
    tally = ReplayTally()
    buffer.extend(torch.arange(100))
    first = tally.values_now(buffer, config)
    assert first["replay_fill"] == 0.25 and "replay_writes_per_s" not in first  # a rate needs two looks
    assert first["replay_utd"] == config.algorithm.updates_per_batch / config.collector.frames_per_batch
    buffer.extend(torch.arange(300))
    assert tally.values_now(buffer, config) == first, "recomputed before a second had passed"
    second = wait_until(lambda: tally.due() and tally.values_now(buffer, config), what="the second look")
    assert second["replay_fill"] == 1.0 and second["replay_writes_per_s"] > 0
    assert buffer.stats()["write_count"] == 400


def test_compile_goes_through_torchrls_switches_and_the_loss_modules_own(tmp_path):
    """compile = true: the collector compiles its policy (TorchRL's compile_policy), the loss module
    is compiled in place (its state dict keeps its keys, so checkpoints load either way); CUDA
    graphs only on CUDA, so not here."""
    from tui_rl.engine.run.parts import RunParts

    plain = RunParts.build(tiny_dqn(), tmp_path / "plain")
    compiled = RunParts.build(tiny_dqn("compile=true"), tmp_path / "compiled")
    try:
        collector = compiled.collector.collector
        assert collector.compiled_policy and not collector.cudagraphed_policy
        assert not plain.collector.collector.compiled_policy
        assert compiled.algorithm.loss_module._compiled_call_impl is not None
        assert compiled.algorithm.state_dict()["loss_module"].keys() == plain.algorithm.state_dict()["loss_module"].keys()
    finally:
        plain.close(on_error=lambda: None)
        compiled.close(on_error=lambda: None)


def test_setup_line_says_what_the_machine_has():
    from tui_rl.engine.run import machine

    line = machine.describe("")
    assert line.startswith(f"This machine: {machine.cores()} CPU core")
    assert ("no GPU" in line) == (not machine.gpus())
    assert "127.0.0.1:9" in machine.describe("127.0.0.1:9") and "refused" in machine.describe("127.0.0.1:9")
