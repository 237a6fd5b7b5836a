"""The control channel of a running trainer: a Unix socket in (or recorded in) its run folder.

Clients (the app, the inspector, ``tui-rl attach``) connect with ``multiprocessing.connection``
and the run's auth key (``control.key``, 0600). Every event the trainer emits is broadcast to
every connected client; each client's commands go into the trainer's queue, and answers
(rollouts, weights) go back to the client that asked. Each client has its own outbox and sender
thread, so a slow client can never hold up training; one that falls far behind is dropped.
Messages are plain pickles: ``Connection.send`` would use torch's multiprocessing reductions,
which pass tensors as file descriptors that only a child process could open.

:func:`serve_run` is how a run is trained, in ``trainer_main`` (the subprocess the app starts)
and in ``tui-rl train`` (headless, in-process) alike: the socket comes up first, so clients can
connect while torch is still being imported.
"""

from __future__ import annotations

import os
import pickle
import queue
import secrets
import signal
import socket
import sys
import threading
import time
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any, Callable

from tui_rl.config import ConfigError
from tui_rl.engine import run_record
from tui_rl.engine.protocol import Command, Event
from tui_rl.engine.runfolder import KEY_FILE, SOCKET_FILE, read_config, read_summary, socket_path_for

#: events a client may fall behind by before it is disconnected
OUTBOX_LIMIT = 10_000
#: how long closing waits for the outboxes to drain (the final status must reach the clients)
DRAIN_TIMEOUT_S = 3.0

Submit = Callable[[Command, Callable[[Event], None]], None]


class ControlServer:
    """Listens on the run's socket; broadcasts events; hands commands to ``submit``."""

    def __init__(self, run_dir: Path, submit: Submit) -> None:
        self.run_dir = Path(run_dir)
        self.submit = submit
        self.clients: list[ClientLink] = []
        self.lock = threading.Lock()
        self.closing = False
        key = secrets.token_bytes(32)
        write_key(self.run_dir / KEY_FILE, key)
        self.socket_path = socket_path_for(self.run_dir)
        self.socket_path.unlink(missing_ok=True)  # left by a trainer that was killed
        old_umask = os.umask(0o077)  # the socket file is created owner-only
        try:
            self.listener = Listener(str(self.socket_path), family="AF_UNIX", authkey=key)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)
        self.record_address()
        self.acceptor = threading.Thread(target=self.accept_loop, name="control-accept", daemon=True)
        self.acceptor.start()

    def record_address(self) -> None:
        run_record.record_address(self.run_dir, self.socket_path, os.getpid(), socket.gethostname())

    def accept_loop(self) -> None:
        while not self.closing:
            try:
                conn = self.listener.accept()
            except OSError:
                if self.closing:
                    return
                continue  # a client that failed the auth handshake, or hung up during it
            except Exception:  # AuthenticationError and friends: a bad key, ignore that client
                continue
            if self.closing:
                conn.close()
                return
            link = ClientLink(conn, self.submit, self.forget)
            with self.lock:
                self.clients.append(link)

    def broadcast(self, event: Event) -> None:
        with self.lock:
            clients = list(self.clients)
        for link in clients:
            link.send(event)

    def forget(self, link: ClientLink) -> None:
        with self.lock:
            if link in self.clients:
                self.clients.remove(link)

    def close(self) -> None:
        """Stop listening, let the clients receive what is queued, then disconnect them."""
        self.closing = True
        wake_accept(self.socket_path)
        self.listener.close()  # also unlinks the socket file
        with self.lock:
            clients = list(self.clients)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        for link in clients:
            link.finish(max(0.0, deadline - time.monotonic()))
        if self.socket_path.parent != self.run_dir.resolve():
            try:
                self.socket_path.parent.rmdir()  # the short temp folder made for a long path
            except OSError:
                pass


class ClientLink:
    """One connected client: a reader thread for its commands, a sender thread for its events."""

    def __init__(self, conn: Connection, submit: Submit, on_close: Callable[[ClientLink], None]) -> None:
        self.conn = conn
        self.submit = submit
        self.on_close = on_close
        self.outbox: queue.Queue[Event | None] = queue.Queue(maxsize=OUTBOX_LIMIT)
        self.closed = False
        self.reader = threading.Thread(target=self.read_loop, name="control-read", daemon=True)
        self.sender = threading.Thread(target=self.send_loop, name="control-send", daemon=True)
        self.reader.start()
        self.sender.start()

    def read_loop(self) -> None:
        while not self.closed:
            try:
                command = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                break
            except Exception as exc:  # an object that does not unpickle here: tell the client
                print(f"control: unreadable command: {exc}", file=sys.stderr)
                continue
            if isinstance(command, Command):
                self.submit(command, self.send)
        self.close()

    def send_loop(self) -> None:
        while True:
            event = self.outbox.get()
            if event is None or self.closed:
                break
            try:
                self.conn.send_bytes(pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL))
            except (OSError, ValueError):
                break
        self.close()

    def send(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.outbox.put_nowait(event)
        except queue.Full:
            print("control: a client fell too far behind and was disconnected", file=sys.stderr)
            self.close()

    def finish(self, timeout: float) -> None:
        """Send what is queued (within ``timeout``), then hang up."""
        try:
            self.outbox.put(None, timeout=timeout)
        except queue.Full:
            pass
        self.sender.join(timeout)
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.conn.close()
        except OSError:
            pass
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


def record_failure(run_dir: Path, reason: str) -> None:
    """Mark a run failed before a trainer could be built (its config no longer loads)."""
    run_record.record_failure(run_dir, reason)


def serve_run(
    run_dir: Path,
    *,
    resume: bool = False,
    on_event: Callable[[Event], None] | None = None,
    on_trainer: Callable[[Any], None] | None = None,
) -> str:
    """Train the run in ``run_dir`` behind its control socket; returns the final state.

    ``on_event`` sees every event after the clients were sent it; ``on_trainer`` receives the
    Trainer once built, before it runs (to install signal handlers, or read its counters later).
    """
    run_dir = Path(run_dir)
    commands: queue.Queue = queue.Queue()
    server = ControlServer(run_dir, lambda command, reply: commands.put((command, reply)))
    try:
        try:
            config = read_config(run_dir)
        except ConfigError as exc:
            record_failure(run_dir, str(exc))
            return "failed"
        from tui_rl.engine.trainer import Trainer  # torch loads here, after the socket is up

        def broadcast(event: Event) -> None:
            server.broadcast(event)
            if on_event is not None:
                on_event(event)

        trainer = Trainer(config, run_dir, broadcast, from_checkpoint=resume, commands=commands)
        if on_trainer is not None:
            on_trainer(trainer)
        return trainer.run()
    finally:
        server.close()


def install_stop_signals(trainer: Any, reasons: dict[int, str]) -> None:
    """The first of these signals checkpoints and stops ``trainer`` after the current batch,
    giving its reason; a second one interrupts at once."""

    def handle(signum: int, frame: Any) -> None:
        if trainer.stopping:
            trainer.interrupt()
        trainer.stop(reasons[signum])

    for signum in reasons:
        signal.signal(signum, handle)


def connect(run_dir: Path) -> Connection:
    """A connection to the trainer of ``run_dir``; OSError / EOFError / AuthenticationError if none."""
    summary = read_summary(run_dir)
    address = summary.socket or str(Path(run_dir) / SOCKET_FILE)
    key = (Path(run_dir) / KEY_FILE).read_bytes()
    return Client(address, family="AF_UNIX", authkey=key)
