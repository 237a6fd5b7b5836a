"""Presets: TOML files that hold a :class:`RunConfig`, shipped in ``presets/`` or anywhere.

Every failure is a :class:`ConfigError` whose message names the field and what is allowed, so the
CLI and the app can show it without a traceback.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from tui_rl.config.edit import edit, validate
from tui_rl.config.errors import ConfigError, shorten
from tui_rl.config.models import NetworkConfig, RunConfig

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PRESET = "cartpole-dqn"
#: run and preset names become folder and file names, shown in one table cell
MAX_NAME_LENGTH = 100


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
    try:
        if path.suffix == ".toml" or path.exists():
            if not path.is_file():
                raise ConfigError(f"no such preset file: {path}")
            return path
        shipped = presets_dir() / f"{name_or_path}.toml"
        if shipped.is_file():
            return shipped
    except (OSError, ValueError) as exc:  # a name too long for a path, or holding a NUL
        if isinstance(exc, ConfigError):
            raise
        why = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"{shorten(name_or_path)}: not a preset name or file ({why})") from None
    names = ", ".join(p.stem for p in sorted(presets_dir().glob("*.toml")))
    raise ConfigError(f"unknown preset {shorten(name_or_path)}; shipped presets: {names}")


def load_preset(name_or_path: str) -> RunConfig:
    return load_file(resolve_preset(name_or_path))


def load_file(path: Path) -> RunConfig:
    try:
        data = tomllib.loads(Path(path).read_bytes().decode())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return validate(data, source=str(path))


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a run or a preset (a folder or file name shown in tables), or None."""
    if not name or name in (".", "..") or name.startswith("."):
        return "must not be empty or start with a dot"
    if len(name) > MAX_NAME_LENGTH:
        return f"at most {MAX_NAME_LENGTH} characters, not {len(name)}"
    if any(ch in "/\\" or unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in name):
        return "letters, digits, spaces and punctuation only: no slashes, tabs, newlines or control characters"
    return None


def to_toml(config: RunConfig) -> str:
    """The config as TOML, validated again first: a section changed in place (``config.env.kwargs =
    ...`` validates only that section) never writes a file that would not load."""
    # TOML has no null: fields left at None are simply omitted and come back as their default None.
    data = config.model_dump(exclude_none=True)
    validate(data, source="config to save")
    return tomli_w.dumps(data)


def save_file(config: RunConfig, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(to_toml(config))
    tmp.replace(path)


def preset_file_name(config: RunConfig) -> str:
    """A file name saying what ``config`` trains: ``hopper-v5-ppo-lstm.toml``."""
    parts = [config.env.id, config.algorithm.name]
    if config.network.recurrent != "none":
        parts.append(config.network.recurrent)
    return re.sub(r"[^a-z0-9.]+", "-", "-".join(parts).lower()).strip("-.") + ".toml"


def network_words(network: NetworkConfig) -> str:
    """The network in a few words: ``convnet 32-64-64, MLP 512, LSTM 64``."""
    words = [f"convnet {'-'.join(map(str, network.conv_channels))}"] if network.encoder == "convnet" else []
    words.append(f"MLP {'x'.join(map(str, network.hidden_sizes))}" if network.hidden_sizes else "linear")
    if network.recurrent != "none":
        words.append(f"{network.recurrent.upper()} {network.recurrent_size}")
    return ", ".join(words)


def saved_preset(config: RunConfig, origin: str, source: RunConfig) -> tuple[RunConfig, list[str]]:
    """``config`` as a preset file should hold it, and notes on what was changed for that.

    ``source`` is what ``config`` was made from (the preset Setup opened, a search trial's run).
    A description inherited from it is replaced by one of what ``config`` trains (env, algorithm,
    network) and where it came from (``origin``); a target return inherited from a preset of
    another env is dropped, as it says nothing of this one. What the user wrote stays.
    """
    changes: dict[str, object] = {}
    notes = []
    if config.description in ("", source.description):
        changes["description"] = (
            f"{config.algorithm.name.upper()} on {config.env.id} ({network_words(config.network)}); {origin}"
        )
    target = config.eval.target_return
    if target is not None and config.env.id != source.env.id and target == source.eval.target_return:
        changes["eval.target_return"] = None
        notes.append(f"eval.target_return {target:g} was {source.env.id}'s: left out")
    return (edit(config, changes, source="preset") if changes else config), notes
