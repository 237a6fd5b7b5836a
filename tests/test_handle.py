"""A real trainer subprocess driven through RunHandle: commands, several clients, stop, SIGKILL and resume.

The tests of the first trainer are one story, in order: it starts, pauses, steps, takes new
hyperparameters, gains a second client, answers snapshots, and stops.
"""

import os
import signal
import stat
from pathlib import Path

import pytest
from conftest import ENDLESS_BATCH, PATIENCE_S, endless_dqn, wait_for_event

from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.channel.handle import RunHandle, RunNotLive
from tui_rl.engine.protocol import (
    Checkpointed,
    HparamsChanged,
    HparamsRejected,
    Log,
    Metrics,
    RolloutReady,
    StatusChanged,
)
from tui_rl.engine.runs.folder import KEY_FILE, read_config, read_events, read_history, read_summary

BATCH = ENDLESS_BATCH


def status(state):
    return lambda e: isinstance(e, StatusChanged) and e.state == state


def metrics(e):
    return isinstance(e, Metrics)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    # Deep enough that the run folder cannot hold an AF_UNIX socket path (about 107 bytes).
    deep = tmp_path_factory.mktemp("runs") / ("long-runs-folder-name-" * 4)
    deep.mkdir()
    return deep


@pytest.fixture(scope="module")
def handle(runs_dir):
    handle = RunHandle.start(endless_dqn(), name="story", runs_dir=runs_dir, preset="tiny")
    yield handle
    if handle.process.poll() is None:
        handle.process.kill()
        handle.process.wait()


def test_the_trainer_runs_in_its_own_session_behind_an_owner_only_socket(handle):
    pid = handle.process.pid
    assert os.getsid(pid) == pid != os.getsid(0)
    summary = read_summary(handle.run_dir)
    socket_path = Path(summary.socket)
    assert summary.pid == pid and len(str(handle.run_dir)) > 107 >= len(str(socket_path))
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((handle.run_dir / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(handle.run_dir.stat().st_mode) == 0o700


def test_a_hangup_does_not_end_the_run(handle):
    wait_for_event(handle, metrics)
    os.kill(handle.process.pid, signal.SIGHUP)
    first, _ = wait_for_event(handle, metrics)
    later, _ = wait_for_event(handle, lambda e: metrics(e) and e.frames > first.frames)
    assert handle.process.poll() is None


def test_pause_holds_the_frame_count_and_step_batch_trains_exactly_one_batch(handle):
    handle.pause()
    paused, _ = wait_for_event(handle, status("paused"))
    assert list(handle.events(timeout=0.5)) == []  # nothing trains while paused
    handle.step_batch()
    stepped, _ = wait_for_event(handle, metrics)
    assert stepped.frames == paused.frames + BATCH
    assert [e for e in handle.events(timeout=0.5) if metrics(e)] == []  # and it stays paused
    assert read_summary(handle.run_dir).status == "paused"


def test_new_hyperparameters_reach_the_optimiser_at_the_next_batch(handle):
    handle.set_hparams({"optim.lr": 2.5e-4, "algorithm.gamma": 0.95})
    changed, _ = wait_for_event(handle, lambda e: isinstance(e, HparamsChanged))
    assert changed.changes == {"optim.lr": 2.5e-4, "algorithm.gamma": 0.95}
    assert changed.previous == {"optim.lr": 1e-3, "algorithm.gamma": 0.99}
    handle.step_batch()
    trained, _ = wait_for_event(handle, metrics)
    assert trained.values["lr"] == 2.5e-4  # read back from the optimiser's param groups
    assert read_config(handle.run_dir).optim.lr == 2.5e-4
    assert any(isinstance(e, HparamsChanged) and e.frames == changed.frames for e in read_events(handle.run_dir))


@pytest.mark.parametrize(
    "values, reason",
    [
        ({"optim.lr": 7}, "optim.lr: Input should be less than or equal to 1"),
        ({"network.hidden_sizes": [8]}, "network.hidden_sizes: not a live-tunable field"),
    ],
)
def test_bad_hyperparameters_are_refused_with_the_field_named(handle, values, reason):
    handle.set_hparams(values)
    rejected, _ = wait_for_event(handle, lambda e: isinstance(e, HparamsRejected))
    assert rejected.values == values and reason in rejected.reason
    assert read_config(handle.run_dir).optim.lr == 2.5e-4


def test_a_second_client_catches_up_from_disk_then_follows_live(handle):
    other = RunHandle.attach(handle.run_dir)
    try:
        assert other.is_live
        history = other.history()
        assert history.status == "paused"
        assert any(isinstance(e, HparamsChanged) for e in history.events)
        last_frames = history.metrics["fps"][-1][0]
        handle.resume()
        for client in (handle, other):
            wait_for_event(client, status("running"))
        fresh, seen = wait_for_event(other, metrics)
        assert fresh.frames > last_frames
        assert not any(e.seq <= history.last_seq for e in seen if not metrics(e))
        other.pause()
        for client in (handle, other):
            wait_for_event(client, status("paused"))
    finally:
        other.close()


def test_snapshots_and_weights_go_only_to_the_client_that_asked(handle):
    with RunHandle.attach(handle.run_dir) as inspector:
        latest = inspector.snapshot("latest")
        assert latest.ndim == 1 and bool(latest["next", "done"][-1]) and not latest["next", "done"][:-1].any()
        assert inspector.snapshot("replay").shape == (32,)
        evaluation = inspector.snapshot("eval")
        assert bool(evaluation["next", "done"][-1])
        weights = inspector.weights()
        assert any(tensor.shape == (32, 4) for tensor in weights.values())
    assert not any(isinstance(e, RolloutReady) for e in handle.events(timeout=0.5))


def test_stop_checkpoints_then_the_trainer_exits_and_removes_its_socket(handle):
    socket_path = Path(read_summary(handle.run_dir).socket)
    handle.stop()
    stopped, seen = wait_for_event(handle, status("stopped"))
    assert stopped.reason == "stopped by request"
    checkpoint = [e for e in seen if isinstance(e, Checkpointed)][-1]
    assert checkpoint.frames == stopped.frames
    assert CheckpointStore(handle.run_dir, 2).latest().name == str(stopped.frames)
    assert handle.process.wait(timeout=PATIENCE_S) == 0
    assert not socket_path.exists() and not handle.is_live
    late = RunHandle.attach(handle.run_dir)
    assert not late.is_live and late.history().status == "stopped"
    with pytest.raises(RunNotLive):
        late.pause()


def test_a_killed_trainer_resumes_from_its_last_complete_checkpoint_and_sigterm_stops_it(tmp_path):
    config = endless_dqn("checkpoint.every_frames=200", "checkpoint.keep=2")
    first = RunHandle.start(config, name="killed", runs_dir=tmp_path)
    wait_for_event(first, lambda e: isinstance(e, Checkpointed) and e.frames >= 600)
    wait_for_event(first, lambda e: metrics(e) and e.frames % 200 == 100)  # between two checkpoints
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    first.close()

    # Every file is whole: the summary (now "stopped": its trainer is gone), events, checkpoints.
    summary = read_summary(first.run_dir)
    assert summary.status == "stopped" and "--resume killed" in summary.reason
    checkpoints = CheckpointStore(first.run_dir, 2).checkpoints()
    assert len(checkpoints) == 2 and int(checkpoints[-1].name) >= 600
    lines = (first.run_dir / "events.jsonl").read_text().splitlines()
    assert len(read_events(first.run_dir)) == len(lines)
    resumed_from = int(checkpoints[-1].name)

    second = RunHandle.continue_run(first.run_dir)
    try:
        resumed, _ = wait_for_event(second, lambda e: isinstance(e, Log) and "resumed" in e.message)
        assert resumed.message == f"resumed from the checkpoint at {resumed_from} frames"
        going_on, _ = wait_for_event(second, metrics)
        assert going_on.frames == resumed_from + BATCH
        second.process.send_signal(signal.SIGTERM)  # as a shutdown or `kill` would
        stopped, _ = wait_for_event(second, status("stopped"))
        assert stopped.reason == "terminated (SIGTERM)"
        assert second.process.wait(timeout=PATIENCE_S) == 0
    finally:
        if second.process.poll() is None:
            second.process.kill()
    frames = [f for f, _ in read_history(first.run_dir).metrics["fps"]]
    assert frames == sorted(set(frames)) and frames[0] == BATCH  # the history goes on, no repeats
