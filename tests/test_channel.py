"""The control channel in-process: a real ControlServer on a real socket, real RunHandles, and
hand-made clients and servers that misbehave (silent, slow, hostile). No trainer: events are
emitted the way a trainer does (logged to disk first, then broadcast)."""

import json
import os
import pickle
import socket
import threading
import time

import pytest
from conftest import PATIENCE_S, wait_until

from tui_rl.config import RunConfig
from tui_rl.engine.channel import handle as handle_module
from tui_rl.engine.channel.framing import (
    NONCE_BYTES,
    PREFIX,
    Channel,
    UnsafeSocket,
    WireError,
    connect,
    serve_handshake,
)
from tui_rl.engine.channel.wire import decode, encode
from tui_rl.engine.channel.handle import RunHandle, RunNotLive
from tui_rl.engine.protocol import COMMAND_TYPES, EVENT_TYPES, Log, Metrics, Pause, SetHparams
from tui_rl.engine.runs.folder import KEY_FILE, SOCKET_FILE, read_summary
from tui_rl.engine.runs.record import append_event, create_run, write_run_json
from tui_rl.engine.channel.server import LAGGED, ControlServer


class Marker:
    """Unpickling this creates ``path``: proof that received bytes ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.fixture
def run(tmp_path):
    return create_run(RunConfig(), name="channel", runs_dir=tmp_path / "runs")


class FakeTrainer:
    """Emits logged events as the trainer does: to events.jsonl first, then to the clients."""

    def __init__(self, run_dir, outbox_limit=10_000):
        self.run_dir = run_dir
        self.commands = []
        self.server = ControlServer(run_dir, lambda command, reply: self.commands.append(command), outbox_limit)
        self.seq = 0

    def emit(self, message="tick"):
        self.seq += 1
        event = Log(message, seq=self.seq, time=time.time())
        append_event(self.run_dir, event)
        self.server.broadcast(event)


@pytest.fixture
def trainer(run):
    fake = FakeTrainer(run)
    yield fake
    fake.server.close()


def test_messages_travel_as_json_checked_against_their_types():
    header, payload = encode(SetHparams({"optim.lr": 3e-4}))
    assert json.loads(header) == {"type": "SetHparams", "fields": {"values": {"optim.lr": 3e-4}}} and payload == b""
    assert decode(json.loads(header), payload, COMMAND_TYPES) == SetHparams({"optim.lr": 3e-4})
    bad = [
        ({"type": "StatusChanged", "fields": {"state": "running"}}, COMMAND_TYPES, "unknown message type"),
        ({"type": "Pause", "fields": {"x": 1}}, COMMAND_TYPES, "unknown fields"),
        ({"type": "SetHparams", "fields": {"values": [1]}}, COMMAND_TYPES, "expected an object"),
        ({"type": "StatusChanged", "fields": {"state": "odd"}}, EVENT_TYPES, "is not one of"),
        ({"type": "Log", "fields": {"message": "x", "seq": "1"}}, EVENT_TYPES, "expected int"),
        ({"type": "Log", "fields": {}}, EVENT_TYPES, "missing"),
    ]
    for header, types, reason in bad:
        with pytest.raises(WireError, match=reason):
            decode(header, b"", types)
    with pytest.raises(WireError, match="a payload it cannot carry"):
        decode({"type": "Pause", "fields": {}}, b"data", COMMAND_TYPES)
    with pytest.raises(WireError, match="keys must be strings"):
        encode(SetHparams({1: 0.5}))
    import numpy as np

    header, _ = encode(Metrics({"loss": np.float32(0.5)}, frames=np.int64(7)))  # as numbers, not refused
    assert json.loads(header)["fields"]["values"] == {"loss": 0.5} and json.loads(header)["fields"]["frames"] == 7


def test_rollouts_and_weights_travel_as_plain_tensors(tmp_path):
    import torch
    from tensordict import TensorDict

    from tui_rl.engine.protocol import RolloutReady, WeightsReady

    rollout = TensorDict({"obs": torch.ones(3, 4), "next": {"done": torch.zeros(3, 1, dtype=torch.bool)}}, [3])
    header, payload = encode(RolloutReady("latest", rollout, request_id=2))
    back = decode(json.loads(header), payload, EVENT_TYPES)
    assert back.request_id == 2 and back.rollout.batch_size == (3,)
    assert (back.rollout["obs"] == 1).all() and back.rollout["next", "done"].shape == (3, 1)
    header, payload = encode(WeightsReady({"w": torch.arange(4.0)}))
    assert decode(json.loads(header), payload, EVENT_TYPES).state_dict["w"].tolist() == [0, 1, 2, 3]

    marker = tmp_path / "pwned"
    for hostile in (pickle.dumps(Marker(marker)), _torch_saved(Marker(marker))):
        with pytest.raises(WireError, match="not plain tensors"):
            decode(json.loads(header), hostile, EVENT_TYPES)
    assert not marker.exists()


def _torch_saved(obj):
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_a_client_that_never_answers_the_handshake_holds_up_no_one(trainer, run):
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(str(trainer.server.socket_path))
    try:
        with RunHandle.attach(run) as handle:
            assert handle.is_live
            trainer.emit("hello")
            event = next(handle.events(timeout=PATIENCE_S))
            assert event.message == "hello"
        # The silent one got the challenge, then was hung up on after the handshake timeout.
        silent.settimeout(PATIENCE_S)
        received = b""
        while chunk := silent.recv(4096):
            received += chunk
        assert len(received) == PREFIX.size + NONCE_BYTES
    finally:
        silent.close()


def test_a_client_receives_every_event_from_the_moment_its_connect_returns(trainer, run):
    """It joins the broadcast before the handshake ends: an event logged after it read the
    history is never lost between the two."""
    with RunHandle.attach(run) as handle:
        assert len(trainer.server.clients) == 1  # already in, as attach returned
        trainer.emit("first")
        assert next(handle.events(timeout=PATIENCE_S)).message == "first"


def test_a_client_with_the_wrong_key_is_refused(trainer, run):
    with pytest.raises(ConnectionError):
        connect(trainer.server.socket_path, b"not the key")
    assert trainer.server.clients == []


def test_a_client_that_reads_nothing_is_told_it_fell_behind_before_the_hang_up(run):
    fake = FakeTrainer(run, outbox_limit=8)
    try:
        client = connect(fake.server.socket_path, (run / KEY_FILE).read_bytes())
        wait_until(lambda: fake.server.clients, what="the client to be admitted")
        link = fake.server.clients[0]
        for _ in range(1_000_000):  # until the socket buffer and the outbox are full
            fake.emit("x" * 200)
            if link.lagged:
                break
        assert link.lagged
        received = []
        while True:
            try:
                header, _ = client.recv_json()
            except EOFError:
                break
            received.append(header)
        assert received[-1] == {"control": "bye", "reason": LAGGED}
        seqs = [header["fields"]["seq"] for header in received[:-1]]
        assert seqs == list(range(1, len(seqs) + 1))  # in order, the rest dropped, nothing torn
        client.close()
    finally:
        fake.server.close()


def test_a_handle_that_falls_behind_stops_and_catches_up_from_disk_without_a_gap(trainer, run, monkeypatch):
    monkeypatch.setattr(handle_module, "INBOX_LIMIT", 20)
    handle = RunHandle.attach(run)
    history = handle.history()
    for _ in range(200):  # nobody reads the handle meanwhile
        trainer.emit()
    seen = [event.seq for event in handle.events(timeout=PATIENCE_S)]  # ends with the drop
    assert not handle.is_live and "reattach" in handle.drop_reason and seen == list(range(1, len(seen) + 1))
    history = handle.reattach()
    assert handle.is_live
    for _ in range(15):  # fewer than the limit: this time it keeps up
        trainer.emit()
    seqs = [event.seq for event in history.events]
    for event in handle.events(timeout=PATIENCE_S):
        seqs.append(event.seq)
        if event.seq == trainer.seq:
            break
    assert seqs == list(range(1, 216))
    handle.close()


def test_events_end_when_the_trainer_goes_and_commands_say_so(trainer, run):
    handle = RunHandle.attach(run)
    trainer.server.close()
    assert list(handle.events()) == []  # no timeout: it must end by itself
    assert not handle.is_live and handle.drop_reason
    with pytest.raises(RunNotLive):
        handle.pause()


def test_commands_are_acknowledged_once_queued_and_bad_ones_refused(trainer, run):
    with RunHandle.attach(run) as handle:
        handle.pause()
        assert trainer.commands == [Pause()]  # queued before pause() returned
        with pytest.raises(ValueError, match="keys must be strings"):
            handle.set_hparams({("optim", "lr"): 1e-3})
    raw = connect(trainer.server.socket_path, (run / KEY_FILE).read_bytes())
    raw.send_frame(pickle.dumps(Pause()))
    header, _ = raw.recv_json()
    assert header["control"] == "refused" and "not JSON" in header["reason"]
    raw.close()


def test_attach_refuses_a_socket_path_outside_the_run_folder_or_a_private_folder(run, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    hostile = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hostile.bind(str(shared / "hostile.sock"))
    hostile.listen(1)
    hostile.setblocking(False)
    elsewhere = str(shared / "hostile.sock")
    link = run / SOCKET_FILE
    link.symlink_to(elsewhere)
    try:
        for address in (elsewhere, str(link)):
            summary = read_summary(run)
            summary.socket = address
            write_run_json(run, summary)
            with pytest.raises(UnsafeSocket, match="refusing to connect"):
                RunHandle.attach(run)
        with pytest.raises(BlockingIOError):
            hostile.accept()  # nobody knocked
    finally:
        hostile.close()


def test_a_hostile_server_cannot_run_code_in_the_client(run, tmp_path):
    """A server at the run's own socket that knows the key and sends pickles: refused, unrun."""
    marker = tmp_path / "pwned"
    key = b"k" * 32
    (run / KEY_FILE).write_bytes(key)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(run / SOCKET_FILE))
    listener.listen(2)

    def serve():
        for hostile in ("payload", "header"):
            conn, _ = listener.accept()
            channel = Channel(conn)
            serve_handshake(channel, key)
            if hostile == "payload":  # a pickle as the tensors answering GetWeights
                header, _ = channel.recv_json()
                channel.send_json({"control": "ack", "n": 1})
                fields = {"state_dict": {"kind": "tensors"}, "request_id": header["fields"]["request_id"]}
                channel.send_json({"type": "WeightsReady", "fields": fields}, pickle.dumps(Marker(marker)))
            else:  # a pickle as a header
                channel.send_frame(pickle.dumps(Marker(marker)))
            try:
                while channel.sock.recv(4096):  # until the client hangs up
                    pass
            except OSError:
                pass
            channel.release()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    summary = read_summary(run)
    summary.socket, summary.status = str(run / SOCKET_FILE), "running"
    write_run_json(run, summary)
    inspector = RunHandle.attach(run)
    assert inspector.is_live
    with pytest.raises(RunNotLive, match="refused"):
        inspector.weights(timeout=PATIENCE_S)
    watcher = RunHandle.attach(run)
    assert list(watcher.events()) == [] and "refused" in watcher.drop_reason
    server.join(PATIENCE_S)
    listener.close()
    assert not marker.exists() and not inspector.is_live and not watcher.is_live


def test_the_handle_imports_no_torch_until_a_payload_arrives(trainer, run):
    import subprocess
    import sys

    code = (
        "import sys; from tui_rl.engine.channel.handle import RunHandle; "
        f"h = RunHandle.attach({str(run)!r}); h.pause(); print('torch' in sys.modules, h.is_live)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=PATIENCE_S, check=True)
    assert out.stdout.split() == ["False", "True"]
    assert trainer.commands == [Pause()]

