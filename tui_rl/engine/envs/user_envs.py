"""A user's own env, named in ``env.id`` without registering it anywhere.

``env.id`` takes, besides a registered Gymnasium id:

- ``path/to/file.py:Name``: the file is loaded by its path (relative to the folder tui-rl runs in);
- ``package.module:Name``: the module is imported; a module not installed is also looked for in
  the current folder, but after the installed packages, so a stray ``gymnasium.py`` there never
  shadows Gymnasium (every tui-rl process runs with ``python -P``).

``Name`` is a ``gymnasium.Env`` subclass or a function returning one (called with ``env.kwargs``),
or, as in Gymnasium's own ``module:EnvId`` form, an id the module registers. ``env.imports`` lists
modules to import first, for packages that register their ids on import.

Importing a file runs it, as ``python file.py`` would: only the commands that build the env call
this module, and they say which code they import (``user_code``). Gymnasium is imported lazily:
the command line reads ``user_code`` before anything heavy loads.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

from tui_rl.config.errors import ConfigError

#: ``source:Name`` where source is a ``.py`` file or a dotted module name
USER_ID = re.compile(r"^(?P<source>[^:]+):(?P<name>[A-Za-z_][\w.-]*)$")
#: the namespace the objects named in env.id are registered under with Gymnasium
NAMESPACE = "tui-rl-user"


def split(env_id: str) -> tuple[str, str] | None:
    """``(source, name)`` when ``env_id`` names code (a file or a module), else None."""
    match = USER_ID.match(env_id)
    return (match["source"], match["name"]) if match else None


def is_file(source: str) -> bool:
    return source.endswith(".py")


def user_code(env_id: str, imports: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What building an env with this ``env.id`` and ``env.imports`` imports of the user's: file
    paths (absolute) and module names, in order; empty for a registered id."""
    found = list(imports)
    parts = split(env_id)
    if parts is not None:
        source, _ = parts
        found.append(str(Path(source).resolve()) if is_file(source) else source)
    return found


def bound_to_this_folder(env_id: str, imports: list[str] | tuple[str, ...] = ()) -> str | None:
    """The code of ``env.id`` / ``env.imports`` found only relative to the current folder (a
    relative file path, a module that is not installed), which a process elsewhere cannot find."""
    parts = split(env_id)
    modules = list(imports)
    if parts is not None:
        source, _ = parts
        if is_file(source) and not Path(source).is_absolute():
            return source
        if not is_file(source):
            modules.append(source)
    for name in modules:
        top = name.split(".")[0]
        if top not in sys.modules and importlib.util.find_spec(top) is None:
            return name
    return None


def search_last(folder: Path) -> None:
    """Let imports find modules in ``folder``, after every installed package (a user's module may
    import its neighbours, or register ids whose entry points name them)."""
    if str(folder) not in sys.path:
        sys.path.append(str(folder))


def import_module(name: str, field: str) -> ModuleType:
    """Import ``name``: installed packages first, then the current folder."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or name.split(".")[0] != exc.name.split(".")[0]:
            raise ConfigError.at(field, f"importing {name} failed: {exc}") from None
    except Exception as exc:  # the user's module raised while importing
        raise ConfigError.at(field, f"importing {name} failed: {type(exc).__name__}: {exc}") from None
    here = Path.cwd()
    search_last(here)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ConfigError.at(field, f"cannot import {name}: {exc} (looked in the installed packages "
                                    f"and in {here})") from None
    except Exception as exc:
        raise ConfigError.at(field, f"importing {name} failed: {type(exc).__name__}: {exc}") from None


def load_file(source: str) -> ModuleType:
    """The module of the file ``source``, loaded once by its absolute path; its folder is searched
    for the modules it imports, after the installed packages."""
    path = Path(source).resolve()
    if not path.is_file():
        raise ConfigError.at("env.id", f"cannot find {source} (a file in env.id is read relative to "
                                       f"the folder tui-rl runs in: {os.getcwd()})")
    module_name = f"tui_rl_user_env_{zlib.crc32(str(path).encode()):08x}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    search_last(path.parent)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file raised while loading
        del sys.modules[module_name]
        raise ConfigError.at("env.id", f"loading {path} failed: {type(exc).__name__}: {exc}") from None
    return module


def gymnasium_id(env_id: str, imports: list[str] | tuple[str, ...] = ()) -> str:
    """The Gymnasium id to make for ``env.id``: itself when registered, else the object it names,
    registered under ``tui-rl-user/``. Imports ``env.imports`` first. ConfigError names the field."""
    import gymnasium

    for name in imports:
        import_module(name, "env.imports")
    parts = split(env_id)
    if parts is None or env_id in gymnasium.registry:
        return env_id
    source, name = parts
    module = load_file(source) if is_file(source) else import_module(source, "env.id")
    if name in gymnasium.registry:  # Gymnasium's own module:EnvId form: the module registered it
        return name
    target = getattr(module, name, None)
    if target is None:
        raise ConfigError.at("env.id", f"{source} has no {name} (and registers no env id {name!r})")
    if not is_env_maker(target):
        raise ConfigError.at("env.id", f"{source}:{name} is a {type(target).__name__}: name a gymnasium.Env "
                                       "subclass, or a function that returns one")
    registered = f"{NAMESPACE}/{name}-{zlib.crc32(env_id.encode()):08x}-v0"
    if registered not in gymnasium.registry:
        gymnasium.register(registered, entry_point=target)
    return registered


def is_env_maker(target: Any) -> bool:
    import gymnasium

    if isinstance(target, type):
        return issubclass(target, gymnasium.Env)
    return callable(target)
