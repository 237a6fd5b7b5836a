"""The Gymnasium ids the app offers, grouped for a searchable list. Imports gymnasium only (no torch)."""

from __future__ import annotations

import gymnasium


def env_group(env_id: str) -> str | None:
    """The group an env id belongs to (``classic_control``, ``box2d``, a namespace...), None if unusable.

    Ids whose entry point is not a ``module:Class`` string are stubs that only raise (old mujoco-py
    versions, the shimmy bridges), so they are left out.
    """
    spec = gymnasium.registry[env_id]
    if not isinstance(spec.entry_point, str):
        return None
    if spec.namespace:
        return spec.namespace
    module = spec.entry_point.partition(":")[0]
    parts = module.split(".")
    if parts[:2] == ["gymnasium", "envs"] and len(parts) > 2:
        return parts[2]
    return parts[0]


def registered_env_groups() -> dict[str, list[str]]:
    """Every usable registered env id by group, groups and ids sorted by name."""
    groups: dict[str, list[str]] = {}
    for env_id in gymnasium.registry:
        group = env_group(env_id)
        if group is not None:
            groups.setdefault(group, []).append(env_id)
    return {group: sorted(ids) for group, ids in sorted(groups.items())}
