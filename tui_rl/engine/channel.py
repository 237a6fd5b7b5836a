"""The control channel's wire, shared by the trainer's server and the clients' handle.

A frame is a length prefix, a header and an optional payload. After the handshake every header is
JSON: a protocol message (``{"type": "Pause", "fields": {...}}``, its fields checked against the
dataclass's types) or a channel notice (``{"control": "ack" | "refused" | "bye", ...}``). Tensors
(rollouts, weights) travel in the payload: ``torch.save``, read back with ``weights_only=True``.
Nothing received is unpickled, so a crafted message is refused, never run. Commands carry no
payload: the trainer never loads tensors a client sent.

The handshake proves both ends know the run's key (``control.key``): an HMAC over a fresh nonce
from each side. Clients only connect to the run folder's own ``control.sock`` or to one in a
private (0700, owner's) temp folder, and only to a socket this user owns.

Torch is imported only when a payload is written or read: the app loads this module before its
first paint.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import io
import json
import numbers
import os
import secrets
import select
import socket
import stat
import struct
import threading
import types
import typing
from pathlib import Path
from typing import Any, Callable

from tui_rl.engine import protocol

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


def check_socket_path(run_dir: Path, address: str, own_name: str) -> Path:
    """``address`` if it is a socket of this user's, either the run folder's own ``own_name`` or
    one in a private temp folder of this user's; UnsafeSocket otherwise (never a symlink)."""
    path = Path(address)
    own = Path(run_dir).resolve() / own_name
    refuse = f"refusing to connect to {address!r} (named in {Path(run_dir).name}/run.json): "
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


# ---- messages -----------------------------------------------------------------------------------


def encode(message: Any) -> tuple[bytes, bytes]:
    """A protocol message as (header, payload); WireError when a field does not fit its type."""
    cls = type(message)
    name = cls.__name__
    if protocol.COMMAND_TYPES.get(name) is not cls and protocol.EVENT_TYPES.get(name) is not cls:
        raise WireError(f"{name} is not a protocol message")
    fields: dict[str, Any] = {}
    payload = b""
    for spec, hint in _fields(cls):
        value = getattr(message, spec.name)
        if spec.metadata.get("tensors"):
            fields[spec.name], payload = (None, b"") if value is None else _pack_tensors(value)
        else:
            fields[spec.name] = _check(value, hint, f"{name}.{spec.name}")
    return json.dumps({"type": name, "fields": fields}, allow_nan=True).encode(), payload


def decode(header: dict[str, Any], payload: bytes, types: dict[str, type]) -> Any:
    """The message a received header (and payload) describe, if ``types`` allows it; WireError if not."""
    name = header.get("type")
    cls = types.get(name) if isinstance(name, str) else None
    if cls is None:
        raise WireError(f"unknown message type {name!r}")
    fields = header.get("fields")
    if not isinstance(fields, dict):
        raise WireError(f"{name}: no fields object")
    specs = dict((spec.name, (spec, hint)) for spec, hint in _fields(cls))
    unknown = set(fields) - set(specs)
    if unknown:
        raise WireError(f"{name}: unknown fields {sorted(unknown)}")
    values, used_payload = {}, False
    for field_name, value in fields.items():
        spec, hint = specs[field_name]
        if spec.metadata.get("tensors"):
            used_payload = value is not None
            values[field_name] = None if value is None else _unpack_tensors(value, payload, name)
        else:
            values[field_name] = _check(value, hint, f"{name}.{field_name}")
    if payload and not used_payload:
        raise WireError(f"{name}: a payload it cannot carry")
    try:
        return cls(**values)
    except TypeError as exc:
        raise WireError(f"{name}: {exc}") from None


@functools.cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((spec, hints[spec.name]) for spec in dataclasses.fields(cls))


def _check(value: Any, hint: Any, where: str) -> Any:
    """``value`` as JSON data of type ``hint`` (numpy / torch scalars become plain numbers);
    WireError if it is not of that type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        _check_json(value, where)
        return value
    if origin is typing.Literal:
        if value not in args or isinstance(value, bool):
            raise WireError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise WireError(f"{where}: expected an object, got {type(value).__name__}")
        for key in value:
            if not isinstance(key, str):
                raise WireError(f"{where}: keys must be strings (dotted field paths), got {key!r}")
        return {key: _check(item, args[1], f"{where}[{key!r}]") for key, item in value.items()}
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _check(value, option, where)
            except WireError as exc:
                errors.append(str(exc))
        raise WireError(errors[0])
    if hint is type(None):
        if value is not None:
            raise WireError(f"{where}: expected null")
        return value
    numeric = {float: numbers.Real, int: numbers.Integral}.get(hint)
    if numeric is not None:
        if isinstance(value, bool) or not isinstance(value, numeric):
            raise WireError(f"{where}: expected {'a number' if hint is float else 'int'}, got {type(value).__name__}")
        return hint(value)
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise WireError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
        return value
    raise WireError(f"{where}: no wire form for {hint}")


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    if depth > 32:
        raise WireError(f"{where}: nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, list):
        for item in value:
            _check_json(item, where, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise WireError(f"{where}: keys must be strings (dotted field paths), got {key!r}")
            _check_json(item, f"{where}[{key!r}]", depth + 1)
    else:
        raise WireError(f"{where}: {type(value).__name__} is not JSON data")


# ---- tensor payloads ----------------------------------------------------------------------------


def _pack_tensors(value: Any) -> tuple[dict[str, Any], bytes]:
    import torch

    if isinstance(value, dict):  # a state dict
        meta: dict[str, Any] = {"kind": "tensors"}
        data: Any = {str(k): v.detach().cpu() for k, v in value.items() if isinstance(v, torch.Tensor)}
    else:  # a TensorDict: its leaves by nested key, rebuilt on the other side
        leaves = [
            (key if isinstance(key, tuple) else (key,), tensor)
            for key, tensor in value.items(include_nested=True, leaves_only=True)
            if isinstance(tensor, torch.Tensor)
        ]
        meta = {"kind": "tensordict", "batch_size": list(value.batch_size), "keys": [list(k) for k, _ in leaves]}
        data = [tensor.detach().cpu() for _, tensor in leaves]
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return meta, buffer.getvalue()


def _unpack_tensors(meta: Any, payload: bytes, where: str) -> Any:
    import torch

    if not isinstance(meta, dict) or meta.get("kind") not in ("tensors", "tensordict"):
        raise WireError(f"{where}: an unknown tensor payload {meta!r}")
    try:
        data = torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as exc:  # pickled objects beyond tensors are refused here, unrun
        raise WireError(f"{where}: a payload that is not plain tensors ({type(exc).__name__})") from None
    if meta["kind"] == "tensors":
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
        ):
            raise WireError(f"{where}: the payload is not a dict of tensors")
        return data
    keys, batch_size = meta.get("keys"), meta.get("batch_size")
    if (
        not isinstance(data, list)
        or not all(isinstance(t, torch.Tensor) for t in data)
        or not isinstance(keys, list)
        or len(keys) != len(data)
        or not all(isinstance(k, list) and k and all(isinstance(p, str) for p in k) for k in keys)
        or not isinstance(batch_size, list)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in batch_size)
    ):
        raise WireError(f"{where}: the payload does not describe a TensorDict")
    from tensordict import TensorDict

    try:
        rollout = TensorDict({}, batch_size=batch_size)
        for key, tensor in zip(keys, data):
            rollout.set(tuple(key), tensor)
    except Exception as exc:
        raise WireError(f"{where}: the payload does not fit its TensorDict ({exc})") from None
    return rollout
