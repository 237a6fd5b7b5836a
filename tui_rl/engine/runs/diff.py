"""What differs between two runs (or two seed groups): their configs field by field, and the live
edits each received and kept (with the frame of each), for a side-by-side view. No torch import."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tui_rl.config import RunConfig
from tui_rl.engine.protocol import Event, HparamsChanged, Undone
from tui_rl.engine.runs.folder import read_config, read_events


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """A config dump as ``{"optim.lr": 0.001, "transforms.0.name": ...}``."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def config_fields(config: RunConfig) -> dict[str, Any]:
    return flatten(config.model_dump(mode="json"))


@dataclass(frozen=True)
class FieldDiff:
    path: str
    left: Any
    right: Any


MISSING = "—"


def config_diff(left: RunConfig, right: RunConfig) -> list[FieldDiff]:
    """Every field whose value differs (a field only one side has shows ``—`` on the other)."""
    a, b = config_fields(left), config_fields(right)
    return [
        FieldDiff(path, a.get(path, MISSING), b.get(path, MISSING))
        for path in sorted(a.keys() | b.keys())
        if a.get(path, MISSING) != b.get(path, MISSING)
    ]


@dataclass(frozen=True)
class LiveEdit:
    frames: int
    path: str
    previous: Any
    value: Any


def standing_changes(events: Iterable[Event]) -> list[HparamsChanged]:
    """The live changes still in force, in order: each undo takes back the newest one standing."""
    standing: list[HparamsChanged] = []
    for event in events:
        if isinstance(event, HparamsChanged):
            standing.append(event)
        elif isinstance(event, Undone) and standing:
            standing.pop()
    return standing


def live_edits(run_dir: Path) -> list[LiveEdit]:
    """The live hyperparameter changes a run received and did not undo, in order."""
    return [
        LiveEdit(event.frames, path, event.previous.get(path), value)
        for event in standing_changes(read_events(run_dir))
        for path, value in event.changes.items()
    ]


def run_diff(left: Path, right: Path) -> tuple[list[FieldDiff], list[LiveEdit], list[LiveEdit]]:
    """The config diff of two run folders and each one's live edits."""
    return config_diff(read_config(left), read_config(right)), live_edits(left), live_edits(right)
