"""Checkpoints of a run: ``checkpoints/<frames>/``, each one complete or absent, loaded without pickle.

Each checkpoint is a TorchRL :class:`~torchrl.checkpoint.Checkpoint` directory (a manifest plus one
folder per component). TorchRL stages and renames it, but does not fsync, so it is written into a
temporary folder first, every file is fsynced, and only then is the folder renamed to its frame
count. Older checkpoints are removed only after the new one is in place.

A run folder may come from elsewhere, so a checkpoint is data, never code: every component is a
state dict in one ``state.pt`` read with ``torch.load(weights_only=True)``; a component with
``write_beside`` / ``read_beside`` (a memory-mapped replay buffer) also keeps tensor files beside
it, written and read as a TensorDict memmap without pickle. Before loading,
:meth:`CheckpointStore.check` refuses anything else (pickle files such as a replay buffer's
``prefetch.pkl``, other adapters, symbolic links, files the manifest does not list), so nothing
outside the run folder is read and nothing in it is unpickled.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

from torchrl.checkpoint import Checkpoint, StateDictCheckpointAdapter

from tui_rl.engine.runs.folder import CHECKPOINTS_DIR

#: one torch file per state-dict component: fast to write, loaded with ``weights_only=True``
STATE_DICT_ADAPTER = StateDictCheckpointAdapter(payload_format="torch")
#: the only file a component folder may hold
STATE_FILE = StateDictCheckpointAdapter.state_torch
#: the component a checkpoint cannot be resumed without: the networks, their optimisers and targets
NETWORKS = "algorithm"
TEMP_PREFIX = ".tmp-"
REPLACED_PREFIX = ".replaced-"
#: a failed write with less free space than this left is taken for a full disk (torch.save
#: reports one as an opaque RuntimeError, not ENOSPC)
FULL_BELOW_BYTES = 1024**2


class DiskFull(Exception):
    """A checkpoint could not be written for want of space; the previous ones are intact."""


class CheckpointUnusable(Exception):
    """A checkpoint that cannot be loaded (corrupt, truncated, unsafe); the message says why."""


class CheckpointStore:
    """The checkpoints of one run folder, keeping the newest ``keep``."""

    def __init__(self, run_dir: Path, keep: int) -> None:
        self.run_dir = Path(run_dir)
        self.directory = self.run_dir / CHECKPOINTS_DIR
        self.keep = keep

    def save(self, frames: int, components: dict[str, Any], metadata: dict[str, Any]) -> Path:
        """Write ``components`` (objects with ``state_dict``) at ``frames``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stage = self.directory / f"{TEMP_PREFIX}{frames}-{uuid.uuid4().hex[:8]}"
        try:
            make_checkpoint(components).save(stage, metadata=metadata)
            records = Checkpoint.manifest(stage)["components"]
            for name, component in components.items():
                if hasattr(component, "write_beside"):
                    component.write_beside(stage / records[name]["path"])
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
        except Exception as exc:
            if disk_full(exc, self.directory):
                raise DiskFull(f"the checkpoint at {frames} frames could not be written to {self.directory}") from None
            raise
        finally:
            remove_tree(stage)
        self.prune()
        return final

    def adopt(self, source: Path) -> Path:
        """Copy another run's checkpoint ``source`` in (a branch starts from it), as atomically as
        :meth:`save`; the source is checked first, so nothing unsafe is copied."""
        CheckpointStore(source.parent.parent, keep=1).check(source)
        self.directory.mkdir(parents=True, exist_ok=True)
        stage = self.directory / f"{TEMP_PREFIX}{source.name}-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copytree(source, stage, symlinks=True)
            fsync_tree(stage)
            final = self.directory / source.name
            os.replace(stage, final)
            fsync_dir(self.directory)
        finally:
            remove_tree(stage)
        return final

    def candidates(self) -> list[Path]:
        """Every folder named for a frame count, intact or not, newest first."""
        if not self.directory.is_dir() or self.directory.is_symlink():
            return []
        found = [path for path in self.directory.iterdir() if path.name.isdigit()]
        return sorted(found, key=lambda path: int(path.name), reverse=True)

    def checkpoints(self) -> list[Path]:
        """Checkpoints with a valid manifest, oldest first."""
        found = [path for path in self.candidates() if not path.is_symlink() and Checkpoint.is_checkpoint(path)]
        return found[::-1]

    def latest(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def check(self, path: Path) -> dict[str, Any]:
        """The manifest of ``path`` after making sure that loading it reads only ``state.pt``
        files inside the run folder; :class:`CheckpointUnusable` says what is wrong otherwise."""
        root = self.run_dir.resolve()
        self.check_directory()
        if path.is_symlink():
            raise CheckpointUnusable(f"{path} is a symbolic link (to {os.readlink(path)}); not followed")
        if not path.resolve().is_relative_to(root):
            raise CheckpointUnusable(f"{path} lies outside the run folder {root}")
        listed = set()
        try:
            manifest = Checkpoint.manifest(path)
        except Exception as exc:
            raise CheckpointUnusable(f"no readable manifest ({exc})") from None
        for name, record in manifest["components"].items():
            if record["adapter"] != STATE_DICT_ADAPTER.adapter_id or record["files"] != [STATE_FILE]:
                continue  # not loaded: restore() loads only the state-dict components it registers
            listed.add(path / record["path"] / STATE_FILE)
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                entry = Path(folder, name)
                mode = entry.lstat().st_mode
                if stat.S_ISLNK(mode):
                    raise CheckpointUnusable(f"{entry} is a symbolic link (to {os.readlink(entry)}); not followed")
                if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
                    raise CheckpointUnusable(f"{entry} is not a regular file")
        for entry in listed:
            if not entry.is_file():
                raise CheckpointUnusable(f"{entry.relative_to(path)} is missing")
        return manifest

    def check_directory(self) -> None:
        """Checkpoints are read only from inside the run folder: ``checkpoints/`` is no link."""
        if self.directory.is_symlink():
            raise CheckpointUnusable(
                f"{self.directory} is a symbolic link (to {os.readlink(self.directory)}); not followed: "
                "checkpoints are read only from inside the run folder"
            )

    def load(self, path: Path, components: dict[str, Any]) -> tuple[dict[str, Any], set[str], set[str]]:
        """Restore the ``components`` that ``path`` holds as state dicts.

        Returns the checkpoint's metadata, the names loaded, and the names it holds in another
        form (such as TorchRL's pickle-based replay-buffer dump), which are never loaded. A
        checkpoint whose :data:`NETWORKS` do not load is unusable: resuming it would train fresh
        networks as if they were the saved ones.
        """
        manifest = self.check(path)
        records = {name: manifest["components"][name] for name in components if name in manifest["components"]}
        loaded = {
            name
            for name, record in records.items()
            if record["adapter"] == STATE_DICT_ADAPTER.adapter_id and record["files"] == [STATE_FILE]
        }
        if NETWORKS in components and NETWORKS not in loaded:
            raise CheckpointUnusable(
                f"its {NETWORKS} (the networks) is missing or not in tui-rl's state-dict form, so it "
                "cannot be loaded"
            )
        try:
            make_checkpoint(components).load(path, components=loaded, map_location="cpu")
            for name in loaded:
                if hasattr(components[name], "read_beside"):
                    components[name].read_beside(path / records[name]["path"])
        except Exception as exc:
            raise CheckpointUnusable(f"{type(exc).__name__}: {exc}") from None
        return manifest.get("metadata", {}), loaded, set(records) - loaded

    def prune(self) -> None:
        for path in self.checkpoints()[: -self.keep]:
            remove_tree(path)

    def remove_all(self) -> int:
        """Remove every checkpoint (a run started over); returns how many there were.
        A ``checkpoints`` link is removed itself, never what it points to."""
        if self.directory.is_symlink():
            self.directory.unlink()
        found = self.candidates()
        for path in found:
            remove_tree(path)
        return len(found)

    def clean_partial(self) -> None:
        """Remove temporary folders a killed trainer left behind; restore a checkpoint that was
        moved aside to be replaced when its replacement never arrived."""
        if not self.directory.is_dir() or self.directory.is_symlink():
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


def disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether a failed write failed for want of space (measured before its partial files go)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(folder).free < FULL_BELOW_BYTES
    except OSError:
        return False


def make_checkpoint(components: dict[str, Any]) -> Checkpoint:
    checkpoint = Checkpoint()
    for name, component in components.items():
        checkpoint.register(name, component, adapter=STATE_DICT_ADAPTER)
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
    if not path.exists() and not path.is_symlink():
        return
    tombstone = path.with_name(f".delete-{path.name}-{uuid.uuid4().hex[:8]}")
    os.replace(path, tombstone)
    if tombstone.is_symlink():
        tombstone.unlink()  # the link only, never what it points to
    else:
        shutil.rmtree(tombstone, ignore_errors=True)
