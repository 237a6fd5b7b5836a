"""Saved rollouts: TensorDicts kept in a run folder's ``rollouts/``, one memory-mapped folder each.

A rollout is written with :meth:`TensorDict.memmap` (one file per entry plus a ``meta.json``) into
a temporary folder that is renamed into place, so a listed rollout is always complete.

No torch import at module level: the app lists saved rollouts before it has loaded torch.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from tui_rl.engine.runfolder import ROLLOUTS_DIR

if TYPE_CHECKING:
    from tensordict import TensorDictBase

META_FILE = "meta.json"
TEMP_PREFIX = ".tmp-"


class RolloutError(ValueError):
    """A rollout that cannot be saved or read; the message names the path and the cause."""


def rollouts_dir(run_dir: Path) -> Path:
    return Path(run_dir) / ROLLOUTS_DIR


def safe_name(name: str) -> str:
    """``name`` reduced to characters that are safe in a folder name (``eval episode/1`` -> ``eval-episode-1``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return cleaned or "rollout"


def save_rollout(run_dir: Path, td: TensorDictBase, name: str) -> Path:
    """Write ``td`` to ``run_dir/rollouts/<name>`` (``<name>-2``, ... if taken); returns the folder."""
    folder = rollouts_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name)
    stage = folder / f"{TEMP_PREFIX}{stem}-{uuid.uuid4().hex[:8]}"
    try:
        # A lazy stack or a slice of a bigger buffer becomes one plain TensorDict of its own.
        td.to_tensordict().memmap(prefix=stage)
        for suffix in ["", *(f"-{i}" for i in range(2, 10_000))]:
            target = folder / f"{stem}{suffix}"
            try:
                target.mkdir()  # claims the name; the rename below replaces the empty folder
            except FileExistsError:
                continue
            os.replace(stage, target)
            return target
        raise RolloutError(f"{folder}: no free name like {stem!r}")
    except OSError as exc:
        raise RolloutError(f"{folder}: cannot save the rollout: {exc.strerror or exc}") from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def list_rollouts(run_dir: Path) -> list[Path]:
    """The saved rollouts of a run, newest first."""
    folder = rollouts_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [
        path for path in folder.iterdir()
        if path.is_dir() and not path.name.startswith(".") and (path / META_FILE).is_file()
    ]
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def load_rollout(path: Path) -> TensorDictBase:
    """Read a saved rollout into memory (the files are not kept open)."""
    from tensordict import TensorDict

    path = Path(path)
    if not (path / META_FILE).is_file():
        raise RolloutError(f"{path}: not a saved rollout (no {META_FILE})")
    try:
        return TensorDict.load_memmap(path).to_tensordict()
    except Exception as exc:  # a torn or foreign folder: say which, not a traceback
        raise RolloutError(f"{path}: cannot read the rollout: {type(exc).__name__}: {exc}") from None
