"""The parameters of registry transforms: their kinds, how a value is checked, and how each is
derived from its TorchRL class's signature.

The registry must load without torch (the app reads it before its first paint), so what the
signatures say is kept in ``transform_signatures.json`` beside this module. ``python -m
tui_rl.engine.envs.transform_params`` rewrites it from the installed TorchRL, and
``tests/test_transforms.py`` fails when it no longer matches.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tui_rl.config.errors import ConfigError

ParamKind = Literal["int", "float", "bool", "str", "keys", "list", "ints", "dtype"]

SIGNATURES_PATH = Path(__file__).with_name("transform_signatures.json")

#: what a value of each kind is called in an error ("expected an int")
KIND_NAMES: dict[str, str] = {
    "int": "an int",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "keys": 'a list of keys such as ["observation"]',
    "list": "a number or a list of numbers",
    "ints": "a list of ints such as [0, 2]",
    "dtype": "a dtype: uint8, float32, float16, bfloat16 or float64",
}
DTYPES = ("uint8", "float32", "float16", "bfloat16", "float64")


@dataclass(frozen=True)
class ParamSpec:
    """One keyword argument of a transform.

    ``keys`` is a list of tensordict keys (a nested key is itself a list: ``["next", "reward"]``);
    ``list`` is a number or a list of numbers (one per observation dimension); ``dtype`` is a torch
    dtype's name. ``default`` is what a missing optional param takes, and what forms suggest for a
    required one.
    """

    name: str
    kind: ParamKind
    default: Any = None
    description: str = ""
    required: bool = False
    minimum: float | None = None
    #: what the checks (and a run) can afford: a frame stack of 10^8 or 10^9 no-op steps would
    #: exhaust the machine before anything could say so
    maximum: float | None = None


# ---- derivation from the signature (needs the class, so torch) ----------------------------------

#: annotation (as TorchRL writes it, without "| None") -> kind
ANNOTATION_KINDS: dict[str, ParamKind] = {
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
    "NestedKey": "str",
    "Sequence[NestedKey]": "keys",
    "Sequence[str]": "keys",
    "float | torch.Tensor": "list",
    "torch.dtype": "dtype",
}


def derive_param(parameter: inspect.Parameter) -> dict[str, Any] | None:
    """Kind, default and whether required, read from one parameter of a transform's ``__init__``;
    None when the annotation names no kind the registry knows (the registry then says it)."""
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        annotation = ""
    text = str(annotation).replace(" | None", "")
    required = parameter.default is inspect.Parameter.empty
    default = None if required else parameter.default
    kind = ANNOTATION_KINDS.get(text)
    if kind is None and not text and isinstance(default, (bool, int, float, str)):
        kind = {bool: "bool", int: "int", float: "float", str: "str"}[type(default)]
    if kind is None:
        return None
    return {"kind": kind, "default": default, "required": required}


def derive_signature(target: str) -> dict[str, dict[str, Any] | None]:
    """Every parameter of ``target`` (``module:Class``) with what :func:`derive_param` reads."""
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return {
        parameter.name: derive_param(parameter)
        for parameter in inspect.signature(cls.__init__).parameters.values()
        if parameter.name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }


def load_signatures() -> dict[str, dict[str, dict[str, Any] | None]]:
    return json.loads(SIGNATURES_PATH.read_text())


def signatures_of(targets: list[str]) -> dict[str, dict[str, dict[str, Any] | None]]:
    return {target: derive_signature(target) for target in sorted(set(targets))}


# ---- checking values ----------------------------------------------------------------------------

def check_value(where: str, param: ParamSpec, value: Any) -> Any:
    """``value`` for ``param``, normalised (nested keys as tuples, floats as floats); ConfigError
    at ``where`` saying what was expected otherwise."""
    kind = param.kind
    if kind == "keys":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(_is_key(key) for key in value):
            raise ConfigError.at(where, f"expected {KIND_NAMES[kind]}, got {value!r}")
        return [key if isinstance(key, str) else tuple(key) for key in value]
    if kind == "dtype":
        if value not in DTYPES:
            raise ConfigError.at(where, f"expected {KIND_NAMES[kind]}, got {value!r}")
        return value
    if kind == "ints":
        value = [value] if _is_int(value) else value
        if not isinstance(value, list) or not value or not all(_is_int(v) for v in value):
            raise ConfigError.at(where, f"expected {KIND_NAMES[kind]}, got {value!r}")
        if param.minimum is not None and min(value) < param.minimum:
            raise ConfigError.at(where, f"each must be at least {param.minimum:g}, got {value!r}")
        return value
    numbers = value if kind == "list" and isinstance(value, list) else [value]
    ok = bool(numbers) and all(
        {
            "int": _is_int(v),
            "float": _is_number(v),
            "list": _is_number(v),
            "bool": isinstance(v, bool),
            "str": isinstance(v, str),
        }[kind]
        for v in numbers
    )
    if not ok:
        raise ConfigError.at(where, f"expected {KIND_NAMES[kind]}, got {value!r}")
    if kind in ("float", "list") and not all(math.isfinite(v) for v in numbers):
        raise ConfigError.at(where, f"expected a finite number, got {value!r}")
    if param.minimum is not None and value < param.minimum:
        raise ConfigError.at(where, f"must be at least {param.minimum:g}, got {value!r}")
    if param.maximum is not None and value > param.maximum:
        raise ConfigError.at(where, f"must be at most {param.maximum:g}, got {value!r}")
    return float(value) if kind == "float" else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_key(key: Any) -> bool:
    return isinstance(key, str) or (
        isinstance(key, list) and bool(key) and all(isinstance(part, str) for part in key)
    )

