"""The control channel against real trainer subprocesses: hostile and malformed frames, command
order across clients, signals in the first seconds and in quick succession, trainers killed
before they record their pid, and reaping."""

import os
import pickle
import signal
import time
from pathlib import Path

import pytest
from conftest import ENDLESS_BATCH, PATIENCE_S, endless_dqn, wait_for_event, wait_until

from tui_rl.engine.channel.framing import connect
from tui_rl.engine.channel.handle import RunHandle
from tui_rl.engine.channel.launch import launch_trainer
from tui_rl.engine.protocol import HparamsRejected, Log, Metrics, StatusChanged
from tui_rl.engine.runs.folder import KEY_FILE, list_runs, read_summary
from tui_rl.engine.runs.record import create_run


class Marker:
    """Unpickling this creates ``path``: proof that received bytes ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def metrics_after(frames):
    return lambda e: isinstance(e, Metrics) and e.frames > frames


def stopped_cleanly(handle):
    assert handle.process.wait(timeout=PATIENCE_S) == 0, (handle.run_dir / "trainer.log").read_text()[-2000:]
    return read_summary(handle.run_dir)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One trainer for the tests that leave it running."""
    handle = RunHandle.start(endless_dqn(), name="shared", runs_dir=tmp_path_factory.mktemp("runs"))
    yield handle
    if handle.process.poll() is None:
        handle.process.kill()
        handle.process.wait()


def raw_client(handle):
    summary = read_summary(handle.run_dir)
    return connect(Path(summary.socket), (handle.run_dir / KEY_FILE).read_bytes())


def test_crafted_pickles_on_the_socket_run_no_code_and_the_run_goes_on(shared, tmp_path):
    marker = tmp_path / "pwned"
    first, _ = wait_for_event(shared, lambda e: isinstance(e, Metrics))
    client = raw_client(shared)
    crafted = [
        (pickle.dumps(Marker(marker)), b""),  # a pickle as the header
        (b'{"type": "Pause", "fields": {}}', pickle.dumps(Marker(marker))),  # as a payload
        (b'{"type": "Marker", "fields": {"path": "x"}}', b""),  # a type the protocol lacks
        (b'{"type": "SetHparams", "fields": {"values": [1, 2]}}', b""),  # a field of the wrong type
        (b"[1, 2]", b""),
    ]
    for header, payload in crafted:
        client.send_frame(header, payload)
        notice, _ = client.recv_json()
        while "control" not in notice:  # events broadcast meanwhile
            notice, _ = client.recv_json()
        assert notice["control"] == "refused", notice
    client.release()
    wait_for_event(shared, metrics_after(first.frames))
    assert not marker.exists() and shared.process.poll() is None
    assert read_summary(shared.run_dir).status == "running"


def test_malformed_hyperparameters_are_rejected_and_the_run_goes_on(shared):
    with pytest.raises(ValueError, match="keys must be strings"):
        shared.set_hparams({1: 3e-4})  # refused before it leaves the client
    client = raw_client(shared)
    values = {"optim.lr": {"nested": [1, None]}, "": 2, "optim.lr.x": "junk"}
    header = {"type": "SetHparams", "fields": {"values": values}}
    client.send_json(header)
    rejected, _ = wait_for_event(shared, lambda e: isinstance(e, HparamsRejected))
    assert rejected.values == values and "optim.lr" in rejected.reason
    client.release()
    seen, _ = wait_for_event(shared, lambda e: isinstance(e, Metrics))
    wait_for_event(shared, metrics_after(seen.frames))
    assert shared.process.poll() is None


@pytest.mark.parametrize("last", ["running", "paused"])
def test_commands_from_two_clients_apply_in_the_order_they_were_sent(shared, last):
    other = RunHandle.attach(shared.run_dir)
    try:
        order = [(shared.pause, other.resume), (other.pause, shared.resume)] * 10
        for pause, resume in order:
            pause()
            resume()
        if last == "paused":
            other.pause()
        shared.weights(timeout=PATIENCE_S)  # answered only after every command before it applied
        assert read_summary(shared.run_dir).status == last
    finally:
        other.close()
    shared.resume()


def test_a_client_that_stops_reading_is_dropped_and_catches_up_without_a_gap(shared, monkeypatch):
    from tui_rl.engine.channel import handle as handle_module

    monkeypatch.setattr(handle_module, "INBOX_LIMIT", 5)
    slow = RunHandle.attach(shared.run_dir)
    slow.history()
    wait_until(lambda: not slow.is_live, what="the unread events to overflow")  # nobody reads meanwhile
    assert "reattach" in slow.drop_reason
    before_drop = [e.frames for e in slow.events(timeout=0) if isinstance(e, Metrics) and "fps" in e.values]
    monkeypatch.setattr(handle_module, "INBOX_LIMIT", 100_000)  # from now on it keeps up
    history = slow.reattach()
    assert slow.is_live
    frames = [frames for frames, _ in history.metrics["fps"]]
    assert set(before_drop) <= set(frames)  # what it had read is on disk too
    for _ in range(3):  # the live events go on right after the history
        event, _ = wait_for_event(slow, lambda e: isinstance(e, Metrics) and "fps" in e.values)
        frames.append(event.frames)
    slow.close()
    step = ENDLESS_BATCH
    assert frames == list(range(step, frames[-1] + 1, step))  # no gap, no repeat


def test_the_trainer_reaps_and_liveness_follows_a_kill(runs_dir):
    handle = RunHandle.start(endless_dqn(), name="reaped", runs_dir=runs_dir)
    pid = handle.process.pid
    wait_for_event(handle, lambda e: isinstance(e, Metrics))
    os.kill(pid, signal.SIGKILL)
    summary = wait_until(lambda: (s := read_summary(handle.run_dir)).status == "stopped" and s, what="stopped")
    assert "--resume reaped" in summary.reason
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), what="the killed trainer to be reaped")
    assert handle.process.returncode == -signal.SIGKILL  # the handle is still alive and holds it
    wait_until(lambda: not handle.is_live, what="the handle to notice the drop")


def test_a_trainer_killed_before_it_records_its_pid_leaves_a_stopped_resumable_run(runs_dir):
    run_dir = create_run(endless_dqn(), name="early", runs_dir=runs_dir)
    assert read_summary(run_dir).status == "starting"  # this process holds the run meanwhile
    process = launch_trainer(run_dir)
    process.kill()  # at once: long before it opens its socket and writes its pid
    process.wait()
    summary = read_summary(run_dir)
    assert summary.pid is None and summary.status == "stopped" and "--resume early" in summary.reason
    assert [s.status for s in list_runs(runs_dir)] == ["stopped"]
    handle = RunHandle.continue_run(run_dir)
    logged, _ = wait_for_event(handle, lambda e: isinstance(e, Log) and "checkpoint" in e.message)
    assert "no checkpoint to resume from" in logged.message
    wait_for_event(handle, lambda e: isinstance(e, Metrics))
    handle.stop()
    assert stopped_cleanly(handle).status == "stopped"


def test_a_sigterm_while_torch_loads_stops_the_run_cleanly(runs_dir):
    handle = RunHandle.start(endless_dqn(), name="early-term", runs_dir=runs_dir)
    handle.process.send_signal(signal.SIGTERM)  # its socket is up; torch is still loading
    stopped, _ = wait_for_event(handle, lambda e: isinstance(e, StatusChanged))
    assert (stopped.state, stopped.reason) == ("stopped", "terminated (SIGTERM)")
    summary = stopped_cleanly(handle)
    assert (summary.status, summary.reason) == ("stopped", "terminated (SIGTERM)")


def test_two_sigterms_in_quick_succession_stop_the_run_cleanly(runs_dir):
    handle = RunHandle.start(endless_dqn(), name="double-term", runs_dir=runs_dir)
    wait_for_event(handle, lambda e: isinstance(e, Metrics))
    handle.process.send_signal(signal.SIGTERM)
    time.sleep(0.04)  # the scenario itself: a second signal 40 ms after the first
    handle.process.send_signal(signal.SIGTERM)
    stopped, _ = wait_for_event(handle, lambda e: isinstance(e, StatusChanged) and e.state != "running")
    assert (stopped.state, stopped.reason) == ("stopped", "terminated (SIGTERM)")
    assert stopped_cleanly(handle).status == "stopped"


def test_headless_training_stops_cleanly_on_a_sigterm_while_torch_loads(runs_dir, tmp_path):
    import subprocess
    import sys

    from tui_rl.config import save_file

    preset = tmp_path / "endless.toml"
    save_file(endless_dqn(), preset)
    command = [sys.executable, "-m", "tui_rl.cli", "train", str(preset), "--name", "headless", "--runs-dir", str(runs_dir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stderr.readline()  # printed once the handlers are up, before torch loads
        assert first.startswith("run folder:"), first
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=PATIENCE_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    summary = read_summary(runs_dir / "headless")
    assert (summary.status, summary.reason) == ("stopped", "terminated (SIGTERM)")
    assert "Traceback" not in stderr
