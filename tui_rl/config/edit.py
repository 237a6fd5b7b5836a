"""The one way to change a config: dotted paths and values in, a validated config out.

The forms, the live-hyperparameter panel, the trainer and the CLI's ``--set`` all edit through
:func:`edit` (one field typed in the app: :func:`edit_field`); an edit that does not validate
raises :class:`ConfigError` whose ``errors`` name each field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from tui_rl.config.algorithm_switch import carry_over
from tui_rl.config.algorithms import ALGORITHMS
from tui_rl.config.errors import ConfigError, from_validation_error, shorten
from tui_rl.config.models import RunConfig, live_fields

#: sections whose keys are free-form (passed on as keyword arguments), not fields
FREE_FORM = ("kwargs", "params")


def validate(data: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, source) from None


def edit(
    config: RunConfig, changes: Mapping[str, Any], *, live_only: bool = False, source: str = "config"
) -> RunConfig:
    """``config`` with ``changes`` (``{"optim.lr": 3e-4}``) applied and the whole validated.

    With ``live_only``, a field that cannot change while a run trains is refused.
    """
    live = live_fields(config) if live_only else None
    data = config.model_dump(mode="json")
    for path, value in changes.items():
        if not isinstance(path, str):
            raise ConfigError.at(repr(path), "a field path must be text, such as optim.lr")
        if live is not None and path not in live:
            raise ConfigError.at(path, f"not a live-tunable field; live fields: {', '.join(sorted(live))}")
        set_path(data, path, value)
    return validate(data, source=source)


def edit_field(
    config: RunConfig, path: str, value: Any, *, live_only: bool = False, source: str = "config"
) -> tuple[RunConfig, Any]:
    """``config`` with the one field at ``path`` set to ``value`` (see :func:`edit`), and the value
    as the model holds it (``"3e-4"`` typed in a box is the float 0.0003)."""
    edited = edit(config, {path: value}, live_only=live_only, source=source)
    return edited, field_value(edited, path)


def field_value(config: RunConfig, path: str) -> Any:
    """The value at a dotted path (``network.hidden_sizes``, ``env.kwargs.render_mode``)."""
    value: Any = config
    for part in path.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` in a config dump; an unknown section or field is a ConfigError naming it."""
    parts = dotted.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            raise ConfigError.at(".".join(parts[: i + 1]), "unknown section")
        node = child
    if parts == ["algorithm", "name"]:
        new_section = switched_section(node, value)
        node.clear()
        node.update(new_section)
        return
    if parts[-1] not in node and len(parts) > 1 and parts[-2] not in FREE_FORM:
        known = ", ".join(sorted(node))
        raise ConfigError.at(dotted, f"unknown field; known in {'.'.join(parts[:-1])}: {known}")
    node[parts[-1]] = value


def switched_section(section: dict[str, Any], name: Any) -> dict[str, Any]:
    """The section of algorithm ``name`` replacing ``section``: its defaults, with the values both
    algorithms share (gamma, tau, ...) carried over, as the app's switch does."""
    section_class = ALGORITHMS.get(name) if isinstance(name, str) else None
    if section_class is None:
        raise ConfigError.at("algorithm.name", f"unknown algorithm {name!r}; allowed: {', '.join(ALGORITHMS)}")
    try:
        old = ALGORITHMS[section["name"]].model_validate(section)
    except (KeyError, TypeError, ValidationError):  # a section already broken by earlier edits
        return section_class().model_dump(mode="json")
    return carry_over(old, section_class)[0].model_dump(mode="json")


def parse_value(text: str) -> Any:
    """A typed value as TOML would read it (``3e-4``, ``true``, ``[64, 64]``, ``"x"``), else text."""
    if text.lower() in ("none", "null"):
        return None
    if "\n" in text or "\r" in text:  # one value only: never a second TOML line
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["optim.lr=3e-4"]`` as ``{"optim.lr": 3e-4}``; a malformed one is a ConfigError."""
    changes: dict[str, Any] = {}
    for override in overrides:
        key, sep, raw = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError.at(key, f"--set {shorten(override)}: expected KEY=VALUE, such as optim.lr=3e-4")
        changes[key] = parse_value(raw.strip())
    return changes


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """``--set`` overrides (``KEY=VALUE`` strings) applied to ``config``, validated whole."""
    return edit(config, parse_overrides(overrides), source="--set")
