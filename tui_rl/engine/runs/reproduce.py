"""The ``tui-rl train PRESET --set ...`` line that sets up a run again, with the live changes it
had listed after it as shell comments (they happened at given frame counts; applying them from
frame 0 would be another experiment). No torch import: the Runs screen and ``tui-rl runs show``
print it.

The line is checked before it is given: its overrides applied to the preset must give the run's
starting config, field for field.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from tui_rl.config import DEFAULT_PRESET, ConfigError, RunConfig, edit, load_preset
from tui_rl.config.edit import FREE_FORM, apply_overrides, parse_value, set_path, validate
from tui_rl.engine.protocol import HparamsChanged
from tui_rl.engine.runs.diff import standing_changes
from tui_rl.engine.runs.folder import read_config, read_events, read_summary
from tui_rl.engine.terminal_text import printable

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_value(value: Any) -> str:
    """``value`` as one inline TOML value, as ``--set`` reads it back (``parse_value``)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{key if BARE_KEY.fullmatch(key) else json.dumps(key)} = {toml_value(item)}"
                 for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def set_value(value: Any) -> str:
    """``value`` as a ``--set`` value: text that ``--set`` would read back as itself is left bare
    (``env.id=Pendulum-v1``), everything else is TOML."""
    if isinstance(value, str) and value == value.strip() and "\n" not in value and parse_value(value) == value:
        return value
    return toml_value(value)


def differences(base: Any, target: Any, path: str = "") -> list[tuple[str, Any]]:
    """``(dotted path, value)`` of every leaf where ``target`` differs from ``base``; lists and the
    free-form tables (env kwargs, transform params) are leaves, set whole."""
    if isinstance(target, dict) and isinstance(base, dict) and path.rpartition(".")[2] not in FREE_FORM:
        found = []
        for key, value in target.items():
            found += differences(base.get(key), value, f"{path}.{key}" if path else key)
        return found
    return [] if base == target else [(path, target)]


def starting_config(run_dir: Path) -> tuple[RunConfig, list[HparamsChanged]]:
    """The config the run started with (its standing live changes reversed, newest first) and those
    changes; an edit that was undone is not among them (config.toml holds its values already)."""
    changes = standing_changes(read_events(run_dir))
    data = read_config(run_dir).model_dump(mode="json")
    for event in reversed(changes):
        for path, value in event.previous.items():
            set_path(data, path, value)
    return validate(data, source=f"{Path(run_dir).name}'s starting config"), changes


def overrides_for(base: RunConfig, target: RunConfig) -> list[str]:
    """``--set`` values that turn ``base`` into ``target``: the algorithm first (switching it
    resets its section), then every other field that differs."""
    overrides = []
    if base.algorithm.name != target.algorithm.name:
        overrides.append(f"algorithm.name={target.algorithm.name}")
        base = edit(base, {"algorithm.name": target.algorithm.name})
    found = differences(base.model_dump(mode="json"), target.model_dump(mode="json"))
    return overrides + [override(path, value) for path, value in found]


def override(path: str, value: Any) -> str:
    """``PATH=VALUE`` as ``--set`` reads it back."""
    return f"{path}={set_value(value)}"


def set_options(overrides: list[str]) -> list[str]:
    """``--set PATH=VALUE`` words for each override; ``shlex.join`` them for a shell."""
    return [word for value in overrides for word in ("--set", value)]


def base_preset(preset: str) -> tuple[str, RunConfig, str]:
    """The preset to start from, its config, and a note when it is not the run's own (the run was
    set up from scratch in the app, or its preset file is gone)."""
    if preset:
        try:
            return preset, load_preset(preset), ""
        except ConfigError as exc:
            note = f"# its preset {shlex.quote(preset)} cannot be read ({exc}); starting from {DEFAULT_PRESET}"
            return DEFAULT_PRESET, load_preset(DEFAULT_PRESET), note
    return DEFAULT_PRESET, load_preset(DEFAULT_PRESET), ""


def reproduce_text(run_dir: Path) -> str:
    """The command line, then its notes and the run's live changes as ``#`` comment lines: every
    value shell-quoted, and no control character in any line (a newline would end a comment)."""
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    target, changes = starting_config(run_dir)
    preset, base, note = base_preset(summary.preset)
    overrides = overrides_for(base, target)
    if apply_overrides(base, overrides).model_dump(mode="json") != target.model_dump(mode="json"):
        raise ConfigError(f"{run_dir.name}: its setup cannot be written as --set values of {preset}")
    lines = [shlex.join(["tui-rl", "train", preset, *set_options(overrides)])] + ([note] if note else [])
    if changes:
        lines.append("# changed live during the run (Train screen), not part of the line above:")
        for event in changes:
            for path, value in event.changes.items():
                was = event.previous.get(path)
                change, before = shlex.quote(f"{path}={set_value(value)}"), shlex.quote(set_value(was))
                lines.append(f"#   at {event.frames:,} frames: {change} (was {before})")
    return "\n".join(printable(line) for line in lines)
