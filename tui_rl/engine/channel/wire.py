"""The control channel's messages: protocol dataclasses as JSON headers, tensors as payloads.

A header is ``{"type": "Pause", "fields": {...}}``, each field checked against the dataclass's type
hints on the way out and on the way in. Tensors (rollouts, weights) travel in the payload, written
with ``torch.save`` and read back with ``weights_only=True``: nothing received is unpickled.
Torch is imported only when a payload is written or read: the app loads this module before its
first paint.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import numbers
import types
import typing
from typing import Any

from tui_rl.engine import protocol
from tui_rl.engine.channel.framing import WireError

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
