"""The env list on disk, so a second launch shows it at once: listing the registry imports
Gymnasium and every installed family's package (seconds), while reading this file takes
milliseconds.

The file is JSON (data only: nothing in it is ever imported or run) under the user's cache folder,
keyed by the versions of the packages that decide what is listed; a file written for other
versions, by another program or cut short is ignored and written anew. It is replaced atomically,
so two apps starting at once never read half of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tui_rl.engine.envs.gym_registry import EnvGroup, registered_env_groups

#: the distributions whose versions decide the list (None where one is not installed)
KEY_PACKAGES = ("gymnasium", "ale-py", "minatar", "mujoco", "dm-control", "box2d", "tui-rl")
#: what this file's JSON looks like; a new layout bumps it
FORMAT = 1
FILE_NAME = "env-registry.json"


def cache_folder() -> Path:
    """$XDG_CACHE_HOME/tui-rl, else ~/.cache/tui-rl."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "tui-rl"


def installed_versions() -> dict[str, str | None]:
    def of(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {name: of(name) for name in KEY_PACKAGES}


def read_cached(path: Path, versions: dict[str, str | None]) -> list[EnvGroup] | None:
    """The groups stored at ``path`` for exactly these ``versions``; None when there is no such
    file, it was written for other versions, or it is not what this module writes."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored["format"] != FORMAT or stored["versions"] != versions:
            return None
        return [group_from(entry) for entry in stored["groups"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def group_from(entry: Any) -> EnvGroup:
    """One stored group, checked field by field (TypeError when a field has the wrong type)."""
    name, title, ids, missing = entry["name"], entry["title"], entry["ids"], entry["missing"]
    if not (isinstance(name, str) and isinstance(title, str) and isinstance(ids, list)
            and all(isinstance(i, str) for i in ids) and (missing is None or isinstance(missing, str))):
        raise TypeError(f"not an env group: {entry!r}")
    return EnvGroup(name, title, ids, missing)


def write_cached(path: Path, versions: dict[str, str | None], groups: list[EnvGroup]) -> None:
    """Store ``groups`` for ``versions``; a folder that cannot be written only costs the next
    launch the listing."""
    stored = {
        "format": FORMAT,
        "versions": versions,
        "groups": [{"name": g.name, "title": g.title, "ids": g.ids, "missing": g.missing} for g in groups],
    }
    write_json(path, stored)


def write_json(path: Path, stored: Any) -> None:
    """Replace ``path`` with ``stored`` as JSON, atomically (a reader sees the old file or the
    new one, never half of one); a folder that cannot be written is let be (the cache is only
    a saving)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(stored, file)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def listed_env_groups() -> list[EnvGroup]:
    """The env groups, from the cache when it was written for the installed versions, else listed
    from the registry (and cached)."""
    path, versions = cache_folder() / FILE_NAME, installed_versions()
    groups = read_cached(path, versions)
    if groups is None:
        groups = registered_env_groups()
        write_cached(path, versions, groups)
    return groups
