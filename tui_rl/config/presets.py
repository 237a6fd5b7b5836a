"""Presets: TOML files that hold a :class:`RunConfig`, plus ``--set key=value`` overrides.

Every failure is a :class:`ConfigError` whose message names the field and what is allowed, so the
CLI and the app can show it without a traceback.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from tui_rl.config.algorithms import ALGORITHMS
from tui_rl.config.models import RunConfig

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PRESET = "cartpole-dqn"


class ConfigError(ValueError):
    """A preset, file or override that does not make a valid run config."""


@dataclass(frozen=True)
class PresetInfo:
    name: str
    path: Path
    env_id: str
    algorithm: str
    description: str


def presets_dir() -> Path:
    """Where the shipped presets live: inside the wheel, or beside the package in a checkout."""
    for candidate in (PACKAGE_DIR / "presets", PACKAGE_DIR.parent / "presets"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("no presets folder found next to the tui_rl package")


def list_presets() -> list[PresetInfo]:
    infos = []
    for path in sorted(presets_dir().glob("*.toml")):
        config = load_file(path)
        infos.append(
            PresetInfo(path.stem, path, config.env.id, config.algorithm.name, config.description)
        )
    return infos


def resolve_preset(name_or_path: str) -> Path:
    """A preset name (``cartpole-dqn``) or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"no such preset file: {path}")
        return path
    shipped = presets_dir() / f"{name_or_path}.toml"
    if shipped.is_file():
        return shipped
    names = ", ".join(p.stem for p in sorted(presets_dir().glob("*.toml")))
    raise ConfigError(f"unknown preset {name_or_path!r}; shipped presets: {names}")


def load_preset(name_or_path: str) -> RunConfig:
    return load_file(resolve_preset(name_or_path))


def load_file(path: Path) -> RunConfig:
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return validate(data, source=str(path))


def validate(data: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def format_validation_error(exc: ValidationError, source: str = "config") -> str:
    lines = [f"{source}: invalid configuration"]
    for error in exc.errors():
        # The discriminated union adds the tag ("dqn") to the location: drop it, users never type it.
        loc = [str(part) for part in error["loc"] if part not in ALGORITHMS]
        field = ".".join(loc) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "union_tag_invalid":
            message = f"unknown algorithm; allowed: {', '.join(ALGORITHMS)}"
        lines.append(f"  {field}: {message} (got {error.get('input')!r})")
    return "\n".join(lines)


def to_toml(config: RunConfig) -> str:
    # TOML has no null: fields left at None are simply omitted and come back as their default None.
    return tomli_w.dumps(config.model_dump(exclude_none=True))


def save_file(config: RunConfig, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(to_toml(config))
    tmp.replace(path)


def parse_value(text: str) -> Any:
    """An override value as TOML would read it (``3e-4``, ``true``, ``[64, 64]``, ``"x"``), else text."""
    if text.lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """``["optim.lr=3e-4", "env.num_envs=8"]`` applied to ``config``; the result is validated whole."""
    data = config.model_dump(mode="json")
    for override in overrides:
        key, sep, raw = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {override!r}: expected KEY=VALUE, such as optim.lr=3e-4")
        set_path(data, key, parse_value(raw.strip()))
    return validate(data, source="--set")


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts[: i + 1])}: unknown section")
        node = child
    if parts[-1] == "name" and parts[0] == "algorithm":
        # Switching algorithm replaces its whole section, so the new one's defaults apply.
        fresh = validate({"algorithm": {"name": value}}, source="--set").algorithm
        node.clear()
        node.update(fresh.model_dump(mode="json"))
    elif parts[-1] not in node and len(parts) > 1 and parts[-2] not in ("kwargs", "params"):
        known = ", ".join(sorted(node))
        raise ConfigError(f"{dotted}: unknown field; known in {'.'.join(parts[:-1])}: {known}")
    node[parts[-1]] = value
