"""Dataclasses read back from JSON written by an earlier (or a foreign) process, checked field by
field against their annotations: a wrong type is refused with the field named, never carried on to
crash whatever reads the value later; control characters in its text are escaped
(``terminal_text.py``), so nothing read reaches a terminal as an escape sequence. No torch import."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from tui_rl.config.errors import shorten
from tui_rl.engine.terminal_text import printable_json

T = TypeVar("T")
JSON_NAMES = {list: "a list", type(None): "null", str: "text", int: "a number", float: "a number", bool: "true/false"}


def from_json(cls: type[T], data: Any, **fixed: Any) -> T:
    """``cls`` built from the JSON object ``data``: unknown keys are ignored (older or newer
    writers), missing ones take their defaults, ``fixed`` ones are not read from ``data``;
    ValueError names the first field of the wrong type."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {JSON_NAMES.get(type(data), type(data).__name__)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.name in fixed or field.name not in data:
            continue
        value = data[field.name]
        if not fits(value, hints[field.name]):
            raise ValueError(f"{field.name}: {shorten(value)} is not {describe(hints[field.name])}")
        values[field.name] = printable_json(value)
    return cls(**values, **fixed)


def fits(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, arg) for arg in args)
    if origin is typing.Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # JSON writes 2.0 as 2; NaN and infinity are allowed (a diverged loss)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint in (str, Path):
        return isinstance(value, str)
    if origin is dict:
        key, item = args or (Any, Any)
        return isinstance(value, dict) and all(fits(k, key) and fits(v, item) for k, v in value.items())
    if origin in (list, tuple):
        item = args[0] if args else Any
        return isinstance(value, list) and all(fits(v, item) for v in value)
    return True  # a type JSON cannot hold (a TensorDict): never in these files


def describe(hint: Any) -> str:
    names = {int: "a whole number", float: "a number", str: "text", bool: "true or false", Path: "text"}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    return names.get(hint) or f"a {getattr(typing.get_origin(hint), '__name__', hint)}"
