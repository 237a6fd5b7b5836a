"""The control channel of a running trainer: a Unix socket in (or recorded in) its run folder.

Clients (the app, the inspector, ``tui-rl attach``) connect and prove they know the run's key
(``control.key``, 0600); each is authenticated in its own thread with a timeout, so one that never
answers holds up no one. Every event the trainer emits is encoded once (see ``channel/wire.py``: JSON
plus tensors, never pickles) and broadcast to every client; commands go into the trainer's one
queue in the order they are read, and each is acknowledged only once queued, so a command sent
after another's ``send`` returned is applied after it. Answers (rollouts, weights) go back to the
client that asked. Each client has its own outbox and sender thread, so a slow client never holds
up training; one that falls far behind is told (a ``bye`` notice) and dropped, and catches up
from the run folder when it reconnects.

The trainer process that owns this server is ``run/serve.py``'s ``serve_run``.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tui_rl.engine.channel.framing import (
    AuthFailed,
    Channel,
    WireError,
    parse_header,
    serve_handshake,
    socket_path_for,
)
from tui_rl.engine.channel.wire import decode, encode
from tui_rl.engine.protocol import COMMAND_TYPES, Command, Event
from tui_rl.engine.runs import record as run_record
from tui_rl.engine.runs.folder import KEY_FILE

#: frames a client may fall behind by before it is told and disconnected
OUTBOX_LIMIT = 10_000
#: a client that reads nothing for this long while frames wait for it is disconnected
STALL_TIMEOUT_S = 60.0
#: how long closing waits for the outboxes to drain (the final status must reach the clients)
DRAIN_TIMEOUT_S = 3.0
#: connections waiting to be accepted
BACKLOG = 64
LAGGED = "this client fell too far behind and was disconnected; reconnect to catch up from the run folder"

Submit = Callable[[Command, Callable[[Event], None]], None]
Frame = tuple[bytes, bytes]


class ControlServer:
    """Listens on the run's socket; broadcasts events; hands commands to ``submit``."""

    def __init__(self, run_dir: Path, submit: Submit, outbox_limit: int = OUTBOX_LIMIT) -> None:
        self.run_dir = Path(run_dir)
        self.submit = submit
        self.outbox_limit = outbox_limit
        self.clients: list[ClientLink] = []
        self.lock = threading.Lock()
        self.closing = False
        self.key = secrets.token_bytes(32)
        write_key(self.run_dir / KEY_FILE, self.key)
        self.socket_path = socket_path_for(self.run_dir)
        self.socket_path.unlink(missing_ok=True)  # left by a trainer that was killed
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o077)  # the socket file is created owner-only
        try:
            self.listener.bind(str(self.socket_path))
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)
        self.listener.listen(BACKLOG)
        self.record_address()
        self.acceptor = threading.Thread(target=self.accept_loop, name="control-accept", daemon=True)
        self.acceptor.start()

    def record_address(self) -> None:
        run_record.record_address(self.run_dir, self.socket_path, os.getpid(), socket.gethostname())

    def accept_loop(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                if self.closing:
                    return
                continue
            if self.closing:
                conn.close()
                return
            threading.Thread(target=self.admit, args=(Channel(conn),), name="control-auth", daemon=True).start()

    def admit(self, channel: Channel) -> None:
        """Authenticate one client (within the handshake timeout) and start serving it. It joins
        the broadcast before it learns it is in, so events it must not miss queue up for it."""
        link = ClientLink(channel, self.submit, self.forget, self.outbox_limit)

        def join() -> None:
            with self.lock:
                if self.closing:
                    raise AuthFailed("the trainer is closing")
                self.clients.append(link)

        try:
            serve_handshake(channel, self.key, verified=join)
        except (AuthFailed, OSError, EOFError, WireError):
            link.close()
            channel.release()
            return
        link.start()

    def broadcast(self, event: Event) -> None:
        frame = encode_or_log(event)
        if frame is None:
            return
        with self.lock:
            clients = list(self.clients)
        for link in clients:
            link.send_frame(frame)

    def forget(self, link: ClientLink) -> None:
        with self.lock:
            if link in self.clients:
                self.clients.remove(link)

    def close(self) -> None:
        """Stop listening, let the clients receive what is queued, then disconnect them."""
        with self.lock:
            self.closing = True
            clients = list(self.clients)
        wake_accept(self.socket_path)
        self.acceptor.join(DRAIN_TIMEOUT_S)
        self.listener.close()
        self.socket_path.unlink(missing_ok=True)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        for link in clients:
            link.finish(max(0.0, deadline - time.monotonic()))
        if self.socket_path.parent != self.run_dir.resolve():
            try:
                self.socket_path.parent.rmdir()  # the short temp folder made for a long path
            except OSError:
                pass


def encode_or_log(event: Event) -> Frame | None:
    """The event's frame; one that cannot be encoded is logged and skipped, never raised into the trainer."""
    try:
        return encode(event)
    except WireError as exc:
        print(f"control: an event that cannot be sent: {exc}", file=sys.stderr, flush=True)
        return None


class ClientLink:
    """One connected client: a reader thread for its commands, a sender thread for its events."""

    def __init__(
        self, channel: Channel, submit: Submit, on_close: Callable[[ClientLink], None], outbox_limit: int
    ) -> None:
        self.channel = channel
        self.submit = submit
        self.on_close = on_close
        self.outbox: queue.Queue[Frame | None] = queue.Queue(maxsize=outbox_limit)
        self.lock = threading.Lock()
        self.lagged = False
        self.closed = False
        self.reader = threading.Thread(target=self.read_loop, name="control-read", daemon=True)
        self.sender = threading.Thread(target=self.send_loop, name="control-send", daemon=True)

    def start(self) -> None:
        self.reader.start()
        self.sender.start()

    def read_loop(self) -> None:
        received = 0
        while not self.closed:
            try:
                header, payload = self.channel.recv_frame()
            except (EOFError, OSError):
                break
            except WireError as exc:  # an oversized frame: the stream cannot be trusted further
                print(f"control: dropped a client: {exc}", file=sys.stderr, flush=True)
                break
            received += 1
            try:
                command = decode(parse_header(header), payload, COMMAND_TYPES)
            except WireError as exc:
                print(f"control: refused a command: {exc}", file=sys.stderr, flush=True)
                self.notice({"control": "refused", "n": received, "reason": str(exc)})
                continue
            self.submit(command, self.send)
            self.notice({"control": "ack", "n": received})
        self.close()

    def notice(self, header: dict[str, Any]) -> None:
        """A channel notice, straight to the socket (between two frames of the sender's)."""
        try:
            self.channel.send_json(header, stall_timeout=STALL_TIMEOUT_S)
        except (OSError, TimeoutError):
            self.close()

    def send_loop(self) -> None:
        while True:
            frame = self.outbox.get()
            if frame is None or self.closed:
                break
            try:
                self.channel.send_frame(*frame, stall_timeout=STALL_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError):
                break
        self.close()
        self.reader.join()  # it wakes on the hang-up; then nothing uses the socket any more
        self.channel.release()

    def send(self, event: Event) -> None:
        """An answer for this client only (the trainer's ``reply``)."""
        frame = encode_or_log(event)
        if frame is not None:
            self.send_frame(frame)

    def send_frame(self, frame: Frame) -> None:
        with self.lock:
            if self.closed or self.lagged:
                return
            try:
                self.outbox.put_nowait(frame)
                return
            except queue.Full:
                self.lagged = True
        print("control: a client fell too far behind; told it and disconnected it", file=sys.stderr, flush=True)
        self.say_bye(LAGGED)

    def say_bye(self, reason: str) -> None:
        """Drop what is queued and end with a ``bye`` notice saying why."""
        while True:
            try:
                self.outbox.get_nowait()
            except queue.Empty:
                break
        bye = (json.dumps({"control": "bye", "reason": reason}).encode(), b"")
        self.outbox.put(bye)
        self.outbox.put(None)

    def finish(self, timeout: float) -> None:
        """Send what is queued (within ``timeout``), then hang up."""
        try:
            self.outbox.put(None, timeout=timeout)
        except queue.Full:
            pass
        if self.sender.ident is not None:  # started (a client still in its handshake is not)
            self.sender.join(timeout)
        self.close()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        try:
            self.outbox.put_nowait(None)  # wakes the sender
        except queue.Full:
            pass  # then the sender is busy, and sees ``closed`` next
        self.channel.close()
        self.on_close(self)


def write_key(path: Path, key: bytes) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(key)


def wake_accept(path: Path) -> None:
    """Connect once so a thread blocked in ``accept`` returns and sees that the server closes."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
    except OSError:
        pass
