"""Saved rollouts: TensorDicts kept in a run folder's ``rollouts/``, one memory-mapped folder each.

A rollout is written with :meth:`TensorDict.memmap` (one file per entry plus a ``meta.json``) into
a temporary folder that is renamed into place, so a listed rollout is always complete.

A rollout folder may come from someone else: it is data, never code. Only tensors are saved and
loaded; tensordict keeps non-tensor entries as pickles (``other.pickle``), which could run any
code when loaded, so they are never unpickled: such entries are skipped and named.

No torch import at module level: the app lists saved rollouts before it has loaded torch.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from tui_rl.engine.runs.folder import ROLLOUTS_DIR, first_link

if TYPE_CHECKING:
    from tensordict import TensorDictBase

META_FILE = "meta.json"
TEMP_PREFIX = ".tmp-"
PICKLE_SUFFIX = ".pickle"


class RolloutError(ValueError):
    """A rollout that cannot be saved or read; the message names the path and the cause."""


def rollouts_dir(run_dir: Path) -> Path:
    return Path(run_dir) / ROLLOUTS_DIR


def safe_name(name: str) -> str:
    """``name`` reduced to characters that are safe in a folder name (``eval episode/1`` -> ``eval-episode-1``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return cleaned or "rollout"


def tensors_only(td: TensorDictBase) -> tuple[TensorDictBase, list[str]]:
    """``td`` without its non-tensor entries, and their names (``next.info``)."""
    from tensordict import is_non_tensor

    skipped = [key for key in td.keys(include_nested=True) if is_non_tensor(td.get(key))]
    names = [".".join(key) if isinstance(key, tuple) else key for key in skipped]
    return (td.exclude(*skipped) if skipped else td), names


def save_rollout(run_dir: Path, td: TensorDictBase, name: str) -> tuple[Path, list[str]]:
    """Write ``td``'s tensors to ``run_dir/rollouts/<name>`` (``<name>-2``, ... if taken); returns
    the folder and the names of the entries left out because they are not tensors."""
    folder = rollouts_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name)
    stage = folder / f"{TEMP_PREFIX}{stem}-{uuid.uuid4().hex[:8]}"
    try:
        # A lazy stack or a slice of a bigger buffer becomes one plain TensorDict of its own.
        tensors, skipped = tensors_only(td.to_tensordict())
        tensors.memmap(prefix=stage)
        for suffix in ["", *(f"-{i}" for i in range(2, 10_000))]:
            target = folder / f"{stem}{suffix}"
            try:
                target.mkdir()  # claims the name; the rename below replaces the empty folder
            except FileExistsError:
                continue
            os.replace(stage, target)
            return target, skipped
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


def load_rollout(path: Path) -> tuple[TensorDictBase, list[str]]:
    """Read a saved rollout's tensors into memory (the files are not kept open), never unpickling
    anything; returns it and the names of the entries skipped because they are not tensors."""
    from tensordict import TensorDict

    path = Path(path).absolute()
    if not (path / META_FILE).is_file():
        raise RolloutError(f"{path}: not a saved rollout (no {META_FILE})")
    link = path if path.is_symlink() else first_link(path)
    if link is not None:  # a received rollout is read from inside its folder only
        raise RolloutError(f"{path}: {link.relative_to(path.parent)} is a symbolic link; not followed")
    pickled = {file.parent for file in path.rglob(f"*{PICKLE_SUFFIX}")}
    if path in pickled:
        raise RolloutError(f"{path}: the rollout itself is pickled data, which is never loaded")
    try:
        with tempfile.TemporaryDirectory(prefix="tui-rl-rollout-") as temp:
            # a view of the folder without the pickled entries; tensordict skips entries whose
            # folder is missing, and refuses (allow_pickle=False) any pickle this view still holds
            readable = without(path, pickled, Path(temp) / path.name) if pickled else path
            td = TensorDict.load_memmap(readable, allow_pickle=False).to_tensordict()
    except Exception as exc:  # a torn or foreign folder: say which, not a traceback
        raise RolloutError(f"{path}: cannot read the rollout: {type(exc).__name__}: {exc}") from None
    td, non_tensors = tensors_only(td)
    skipped = sorted(".".join(folder.relative_to(path).parts) for folder in pickled)
    return td, skipped + non_tensors


def without(path: Path, folders: set[Path], view: Path) -> Path:
    """A tree of links at ``view`` to the files of ``path``, leaving out ``folders`` and every pickle."""

    def left_out(directory: str, names: list[str]) -> set[str]:
        return {name for name in names if name.endswith(PICKLE_SUFFIX) or Path(directory, name) in folders}

    shutil.copytree(path, view, symlinks=True, ignore=left_out, copy_function=os.symlink)
    return view
