"""The env ids the app offers (Gymnasium's, and those of the families TorchRL wraps itself), grouped
by env family for a searchable list. Reading the registry imports gymnasium and the installed
families' packages (their ids register on import), never torch; importing this module imports
neither, so the cached list (``registry_cache.py``) costs none of that."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_rl.engine.envs.families import FAMILIES, EnvFamily, register_installed


@dataclass
class EnvGroup:
    name: str
    title: str
    ids: list[str] = field(default_factory=list)
    #: why the group's envs cannot be made here (its package is missing, naming the extra)
    missing: str | None = None
    #: why a module the user named (``env.imports``) did not import, in its own words
    error: str | None = None


def env_group(env_id: str) -> str | None:
    """The group an env id belongs to: its family, else its namespace or module (``toy_text``...);
    None if unusable.

    Ids whose entry point is not a ``module:Class`` string are stubs that only raise (old mujoco-py
    versions, the shimmy bridges), so they are left out, as are a prefixed family's ids without
    its prefix (ALE's older ``PongNoFrameskip-v4`` style: they stay typeable, not listed).
    """
    import gymnasium

    spec = gymnasium.registry[env_id]
    if not isinstance(spec.entry_point, str):
        return None
    module = spec.entry_point.partition(":")[0]
    for family in FAMILIES.values():
        if family.owns(env_id, spec.entry_point):
            return family.name
        if family.prefixes and module.startswith(family.module):
            return None
    if spec.namespace:
        return spec.namespace
    parts = module.split(".")
    if parts[:2] == ["gymnasium", "envs"] and len(parts) > 2:
        return parts[2]
    return parts[0]


def group_title(group: str) -> str:
    family: EnvFamily | None = FAMILIES.get(group)
    return family.title if family is not None else group.replace("_", " ").capitalize()


def registered_env_groups() -> list[EnvGroup]:
    """The families first (each with its ids, or why it is missing), then the other groups by
    name; ids sorted within each."""
    import gymnasium

    missing = register_installed()
    groups = {name: EnvGroup(name, family.title, missing=missing.get(name)) for name, family in FAMILIES.items()}
    for env_id in gymnasium.registry:
        group = env_group(env_id)
        if group is not None:
            groups.setdefault(group, EnvGroup(group, group_title(group))).ids.append(env_id)
    for name, family in FAMILIES.items():
        if family.ids is not None and name not in missing:
            groups[name].ids.extend(family.ids())
    families = [groups.pop(name) for name in FAMILIES]
    others = [groups[name] for name in sorted(groups)]
    for group in families + others:
        # ids a missing family registered earlier in this process cannot be made any more
        group.ids = [] if group.missing else sorted(group.ids)
    return [group for group in families + others if group.ids or group.missing]


#: the group of the ids that the user's own modules (``env.imports``) register
YOUR_ENVS = "yours"


def your_env_group(imports: list[str] | tuple[str, ...]) -> EnvGroup | None:
    """The ids that importing ``env.imports`` registers, as the "Your envs" group (first in the
    list); None without imports. A module that fails to import is the group's error, in its words.
    Never cached: the user's code changes between launches."""
    import gymnasium

    from tui_rl.config import ConfigError
    from tui_rl.engine.envs.user_envs import import_module

    if not imports:
        return None
    group = EnvGroup(YOUR_ENVS, "Your envs")
    before = set(gymnasium.registry)
    for name in imports:
        try:
            import_module(name, "env.imports")
        except ConfigError as exc:
            group.error = str(exc)
            return group
    prefixes = tuple(f"{name}." for name in imports) + tuple(f"{name}:" for name in imports)
    group.ids = sorted(env_id for env_id, spec in gymnasium.registry.items() if env_id not in before or (
        isinstance(spec.entry_point, str) and spec.entry_point.startswith(prefixes)))
    return group
