"""Switching a config to another algorithm without losing what was tuned.

Each algorithm has its own section. Switching back to an algorithm gives back the section the user
(or the preset) last had for it; switching to one not used yet starts from its defaults with the
fields both algorithms share (gamma, updates_per_batch, tau, ...) carried over. Either way the
caller gets, in words, what changed. Imports neither torch nor textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from tui_rl.config.algorithms import ALGORITHMS, AlgorithmSection
from tui_rl.config.errors import ConfigError
from tui_rl.config.models import RunConfig


def switch_algorithm(
    config: RunConfig, name: str, remembered: Mapping[str, AlgorithmSection]
) -> tuple[RunConfig, list[str]]:
    """``config`` trained with ``name``, and what changed, one sentence per item.

    ``remembered`` maps an algorithm's name to the section last used for it (the caller keeps it,
    including the section being left). An unknown ``name`` is a ConfigError naming
    ``algorithm.name``.
    """
    section_class = ALGORITHMS.get(name)
    if section_class is None:
        allowed = ", ".join(ALGORITHMS)
        raise ConfigError.at("algorithm.name", f"unknown algorithm {name!r}; allowed: {allowed}")
    old = config.algorithm
    if old.name == name:
        return config, []
    switched = f"Algorithm {old.name.upper()} → {name.upper()}"
    kept = remembered.get(name)
    if kept is not None:
        new = kept
        changes = [f"{switched}: {name.upper()}'s values are back as last set"]
        changes += [
            f"{field} {text(getattr(old, field))} → {text(getattr(new, field))}"
            for field in shared_fields(old, new)
            if getattr(old, field) != getattr(new, field)
        ]
    else:
        new, carried = carry_over(old, section_class)
        changes = [f"{switched}: {name.upper()} starts from its defaults"]
        if carried:
            changes.append(
                f"kept from {old.name.upper()}: "
                + ", ".join(f"{field} {text(getattr(new, field))}" for field in carried)
            )
    if any(field not in type(new).model_fields for field in type(old).model_fields):
        changes.append(f"{old.name.upper()}'s own values are kept for a switch back")
    update: dict[str, Any] = {"algorithm": new}
    if config.network.has_memory and not new.supports_memory:
        update["network"] = config.network.model_copy(update={"recurrent": "none"})
        changes.append(f"network.recurrent {config.network.recurrent} → none: {name.upper()} takes no memory core")
    return config.model_copy(update=update), changes


def shared_fields(old: AlgorithmSection, new: AlgorithmSection) -> list[str]:
    """Fields both sections have (the name aside), in the new section's order."""
    theirs = type(old).model_fields
    return [field for field in type(new).model_fields if field != "name" and field in theirs]


def carry_over(
    old: AlgorithmSection, section_class: type[AlgorithmSection]
) -> tuple[AlgorithmSection, list[str]]:
    """``section_class``'s defaults with ``old``'s shared values, and the fields whose value that
    changed; a value the new section does not allow (other bounds) keeps its default."""
    data: dict[str, Any] = {"name": section_class.algorithm_name()}
    new = section_class.model_validate(data)
    carried = []
    for field in shared_fields(old, new):
        value = getattr(old, field)
        if value == getattr(new, field):
            continue
        try:
            new = section_class.model_validate({**data, field: value})
        except ValidationError:
            continue
        data[field] = value
        carried.append(field)
    return new, carried


def text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
