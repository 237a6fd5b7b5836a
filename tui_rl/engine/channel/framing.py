"""The control channel's wire, shared by the trainer's server and the clients' handle.

A frame is a length prefix, a header and an optional payload. After the handshake every header is
JSON: a protocol message (encoded by ``engine/channel/wire.py``) or a channel notice
(``{"control": "ack" | "refused" | "bye", ...}``). Nothing received is unpickled, so a crafted
message is refused, never run. Commands carry no payload: the trainer never loads tensors a client
sent.

The handshake proves both ends know the run's key (``control.key``): an HMAC over a fresh nonce
from each side. Clients only connect to the run folder's own ``control.sock`` or to one in a
private (0700, owner's) temp folder, and only to a socket this user owns.

No torch: the app loads this module before its first paint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import select
import socket
import stat
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from tui_rl.engine.runs.folder import RUN_FILE, SOCKET_FILE, RunFolderError

#: AF_UNIX socket paths must fit in sun_path (108 bytes with the terminating NUL)
MAX_SOCKET_PATH = 100
#: header length, payload length
PREFIX = struct.Struct(">IQ")
MAX_HEADER_BYTES = 16 * 1024**2
MAX_PAYLOAD_BYTES = 8 * 1024**3
#: how long either side may take to answer the handshake
AUTH_TIMEOUT_S = 10.0
NONCE_BYTES = 32


class WireError(ValueError):
    """A frame or message that is malformed or not allowed; the message says what is wrong."""


class AuthFailed(ConnectionError):
    """The other end does not know the run's key."""


class UnsafeSocket(ConnectionError):
    """A socket path a client refuses to connect to; the message says why."""


# ---- frames -------------------------------------------------------------------------------------


class Channel:
    """One end of a connection: whole frames in and out. Sending is thread-safe."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False
        self._send_lock = threading.Lock()

    def send_frame(self, header: bytes, payload: bytes = b"", stall_timeout: float | None = None) -> None:
        """Send one frame; with ``stall_timeout``, TimeoutError when the peer reads nothing for that long."""
        data = PREFIX.pack(len(header), len(payload)) + header
        with self._send_lock:
            for chunk in (data, payload):
                if not chunk:
                    continue  # a send of nothing still fails on a socket the peer closed
                if stall_timeout is None:
                    self.sock.sendall(chunk)
                    continue
                view = memoryview(chunk)
                poller = select.poll()  # not select(): fds above 1024 are common in a trainer
                poller.register(self.sock, select.POLLOUT)
                while view:
                    if not poller.poll(stall_timeout * 1000):
                        raise TimeoutError(f"the peer read nothing for {stall_timeout:.0f} s")
                    view = view[self.sock.send(view) :]

    def recv_frame(self) -> tuple[bytes, bytes]:
        """The next frame's header and payload; EOFError when the peer hung up."""
        header_len, payload_len = PREFIX.unpack(self._recv_exact(PREFIX.size))
        if header_len > MAX_HEADER_BYTES or payload_len > MAX_PAYLOAD_BYTES:
            raise WireError(f"a frame of {header_len} + {payload_len} bytes is over the limit")
        return self._recv_exact(header_len), self._recv_exact(payload_len)

    def _recv_exact(self, size: int) -> bytes:
        parts, left = [], size
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise EOFError("the connection closed")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def send_json(self, header: dict[str, Any], payload: bytes = b"", stall_timeout: float | None = None) -> None:
        self.send_frame(json.dumps(header, allow_nan=True).encode(), payload, stall_timeout)

    def recv_json(self) -> tuple[dict[str, Any], bytes]:
        header, payload = self.recv_frame()
        return parse_header(header), payload

    def close(self) -> None:
        """Hang up: wakes any thread reading or writing. Safe from any thread, as it frees no fd."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def release(self) -> None:
        """Free the socket; only for the last thread that uses it (a closed fd's number is soon
        reused, and a thread still holding it would then read or write someone else's socket)."""
        self.close()
        self.sock.close()


def parse_header(header: bytes) -> dict[str, Any]:
    try:
        data = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError(f"a header that is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WireError("a header that is not a JSON object")
    return data


# ---- handshake ----------------------------------------------------------------------------------


def _digest(key: bytes, role: bytes, nonce: bytes) -> bytes:
    return hmac.new(key, role + nonce, hashlib.sha256).digest()


def _timed(channel: Channel, timeout: float, step) -> None:
    channel.sock.settimeout(timeout)
    try:
        step()
    except (TimeoutError, socket.timeout):
        raise AuthFailed(f"no answer to the handshake in {timeout:.0f} s") from None
    except EOFError:
        raise AuthFailed("the other end hung up during the handshake (it does not know our key)") from None
    finally:
        channel.sock.settimeout(None)


def serve_handshake(
    channel: Channel, key: bytes, timeout: float = AUTH_TIMEOUT_S, verified: Callable[[], None] = lambda: None
) -> None:
    """Server side: the client must prove it knows ``key``; then ``verified()`` runs (the client
    starts to receive events from there on, nothing it could miss), and we prove it back."""

    def step() -> None:
        nonce = secrets.token_bytes(NONCE_BYTES)
        channel.send_frame(nonce)
        answer, _ = channel.recv_frame()
        proof, client_nonce = answer[:32], answer[32:]
        if len(client_nonce) != NONCE_BYTES or not hmac.compare_digest(proof, _digest(key, b"client", nonce)):
            raise AuthFailed("the client does not know the run's key")
        verified()
        channel.send_frame(_digest(key, b"server", client_nonce))

    _timed(channel, timeout, step)


def answer_handshake(channel: Channel, key: bytes, timeout: float = AUTH_TIMEOUT_S) -> None:
    """Client side of :func:`serve_handshake`."""

    def step() -> None:
        nonce, _ = channel.recv_frame()
        client_nonce = secrets.token_bytes(NONCE_BYTES)
        channel.send_frame(_digest(key, b"client", nonce) + client_nonce)
        proof, _ = channel.recv_frame()
        if not hmac.compare_digest(proof, _digest(key, b"server", client_nonce)):
            raise AuthFailed("the trainer does not know the run's key (a stale or foreign socket)")

    _timed(channel, timeout, step)


# ---- where a client may connect -----------------------------------------------------------------


def socket_path_for(run_dir: Path) -> Path:
    """The control socket's path: in the run folder when short enough for AF_UNIX, else in a
    fresh owner-only temp folder (the path is recorded in run.json either way)."""
    path = Path(run_dir).resolve() / SOCKET_FILE
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    for base in (None, "/tmp"):  # $TMPDIR first; it may itself be too deep
        folder = Path(tempfile.mkdtemp(prefix="tui-rl-", dir=base))
        if len(os.fsencode(folder / SOCKET_FILE)) <= MAX_SOCKET_PATH:
            return folder / SOCKET_FILE
        folder.rmdir()
    raise RunFolderError(f"no folder short enough for the control socket of {run_dir}")


def check_socket_path(run_dir: Path, address: str, own_name: str) -> Path:
    """``address`` if it is a socket of this user's, either the run folder's own ``own_name`` or
    one in a private temp folder of this user's; UnsafeSocket otherwise (never a symlink)."""
    path = Path(address)
    own = Path(run_dir).resolve() / own_name
    refuse = f"refusing to connect to {address!r} (named in {Path(run_dir).name}/{RUN_FILE}): "
    if path != own:
        try:
            folder = path.parent.lstat()
        except OSError as exc:
            raise UnsafeSocket(refuse + f"its folder is unreadable ({exc.strerror})") from None
        if (
            not path.is_absolute()
            or not stat.S_ISDIR(folder.st_mode)
            or folder.st_uid != os.getuid()
            or stat.S_IMODE(folder.st_mode) & 0o077
        ):
            raise UnsafeSocket(refuse + f"it is neither {own} nor in a private (0700) folder of yours")
    try:
        info = path.lstat()
    except OSError as exc:
        raise FileNotFoundError(f"no control socket at {address} ({exc.strerror})") from None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        raise UnsafeSocket(refuse + "it is not a socket of yours")
    return path


def connect(address: Path, key: bytes, timeout: float = AUTH_TIMEOUT_S) -> Channel:
    """A connected, authenticated channel to the server at ``address``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    channel = Channel(sock)
    try:
        sock.settimeout(timeout)
        sock.connect(str(address))
        answer_handshake(channel, key, timeout)
    except BaseException:
        channel.release()
        raise
    return channel
