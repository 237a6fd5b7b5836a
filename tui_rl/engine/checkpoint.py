"""Checkpoints of a run: ``checkpoints/<frames>/``, each one complete or absent.

Each checkpoint is a TorchRL :class:`~torchrl.checkpoint.Checkpoint` directory (a manifest plus one
folder per component). TorchRL stages and renames it, but does not fsync, so it is written into a
temporary folder first, every file is fsynced, and only then is the folder renamed to its frame
count. Older checkpoints are removed only after the new one is in place. Loading takes the newest
folder with a valid manifest and ignores temporary leftovers of a trainer that was killed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from torchrl.checkpoint import (
    Checkpoint,
    DumpLoadCheckpointAdapter,
    StateDictCheckpointAdapter,
)

from tui_rl.engine.runfolder import CHECKPOINTS_DIR

#: one torch file per state-dict component: fast to write, loaded with ``weights_only=True``
STATE_DICT_ADAPTER = StateDictCheckpointAdapter(payload_format="torch")
DUMP_LOAD_ADAPTER = DumpLoadCheckpointAdapter()
TEMP_PREFIX = ".tmp-"
REPLACED_PREFIX = ".replaced-"


class CheckpointStore:
    """The checkpoints of one run folder, keeping the newest ``keep``."""

    def __init__(self, run_dir: Path, keep: int) -> None:
        self.directory = Path(run_dir) / CHECKPOINTS_DIR
        self.keep = keep

    def save(self, frames: int, components: dict[str, Any], metadata: dict[str, Any]) -> Path:
        """Write ``components`` (objects with ``state_dict`` or ``dump``/``load``) at ``frames``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stage = self.directory / f"{TEMP_PREFIX}{frames}-{uuid.uuid4().hex[:8]}"
        try:
            make_checkpoint(components).save(stage, metadata=metadata)
            fsync_tree(stage)
            final = self.directory / str(frames)
            replaced = None
            if final.exists():  # e.g. Stop right after a periodic checkpoint at the same frames
                # Moved aside, not deleted: clean_partial puts it back if we die before the rename.
                replaced = self.directory / f"{REPLACED_PREFIX}{frames}-{uuid.uuid4().hex[:8]}"
                os.replace(final, replaced)
            os.replace(stage, final)
            fsync_dir(self.directory)
            if replaced is not None:
                remove_tree(replaced)
        finally:
            remove_tree(stage)
        self.prune()
        return final

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [
            path
            for path in self.directory.iterdir()
            if path.name.isdigit() and Checkpoint.is_checkpoint(path)
        ]
        return sorted(found, key=lambda path: int(path.name))

    def latest(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def load(self, path: Path, components: dict[str, Any]) -> dict[str, Any]:
        """Restore the ``components`` that ``path`` holds; returns the checkpoint's metadata."""
        manifest = Checkpoint.manifest(path)
        present = [name for name in components if name in manifest["components"]]
        make_checkpoint(components).load(path, components=present, map_location="cpu")
        return manifest.get("metadata", {})

    def prune(self) -> None:
        for path in self.checkpoints()[: -self.keep]:
            remove_tree(path)

    def clean_partial(self) -> None:
        """Remove temporary folders a killed trainer left behind; restore a checkpoint that was
        moved aside to be replaced when its replacement never arrived."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.name.startswith(REPLACED_PREFIX):
                frames = path.name.removeprefix(REPLACED_PREFIX).split("-")[0]
                original = self.directory / frames
                if not original.exists() and Checkpoint.is_checkpoint(path):
                    os.replace(path, original)
                    continue
            if path.name.startswith("."):
                remove_tree(path)


def make_checkpoint(components: dict[str, Any]) -> Checkpoint:
    checkpoint = Checkpoint()
    for name, component in components.items():
        has_dump = callable(getattr(component, "dump", None)) and callable(
            getattr(component, "load", None)
        )
        checkpoint.register(name, component, adapter=DUMP_LOAD_ADAPTER if has_dump else STATE_DICT_ADAPTER)
    return checkpoint


def fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove ``path`` by renaming it away first, so a half-deleted checkpoint is never seen."""
    if not path.exists():
        return
    tombstone = path.with_name(f".delete-{path.name}-{uuid.uuid4().hex[:8]}")
    os.replace(path, tombstone)
    shutil.rmtree(tombstone, ignore_errors=True)
