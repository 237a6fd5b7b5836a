"""What goes into a run's checkpoints, when one is written, and which one a resume restores.

A checkpoint holds the algorithm (networks, targets, optimisers), the collector, the global RNG
state, the metric loggers' state and, when it fits, the replay buffer; its metadata holds the
run's :class:`RunCounters`. Nothing numerically broken is saved: weights and optimiser state are
checked first. A resume takes the newest checkpoint that loads, saying which newer ones were
skipped and why; when none loads it fails and leaves the run folder as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tensordict import TensorDict
from torchrl.checkpoint import GlobalRNGState
from torchrl.data import TensorStorage

from tui_rl.engine.runs.checkpoints import NETWORKS, CheckpointStore, CheckpointUnusable, DiskFull
from tui_rl.engine.compat import load_replay_state_dict, replay_state_dict, storage_bytes, storage_contents
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.run.health import TrainingFailed, check_optimizers, check_parameters
from tui_rl.engine.protocol import Checkpointed
from tui_rl.engine.runs.folder import resume_command

if TYPE_CHECKING:
    from tui_rl.config import RunConfig
    from tui_rl.engine.run.parts import RunParts
    from tui_rl.engine.runs.record import RunRecord

#: the folder, beside its state.pt, of a memory-mapped buffer's transitions in a checkpoint
TRANSITIONS_DIR = "transitions"
#: a memory-mapped buffer is restored this many bytes at a time
COPY_CHUNK_BYTES = 256 * 1024**2


class ReplayBufferState:
    """A replay buffer as a state dict of tensors (no pickle needed to store or load it).

    A tensor or memory-mapped storage keeps its transitions out of that state dict: only the
    filled rows (not the whole preallocated storage) are copied file to file into the checkpoint
    (:meth:`write_beside`), never through RAM into ``state.pt``, and read back the same way. A
    checkpoint holds the transitions as they were when it was written, so the live storage may
    move on. A list storage, and checkpoints written before this, hold them in ``state.pt``.
    """

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.beside = isinstance(buffer.storage, TensorStorage)
        self.pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        state = replay_state_dict(self.buffer)
        if self.beside:
            state["_storage"] = {**state["_storage"], "_storage": {}}
            # what read_beside must find: tensordict skips a missing file instead of failing
            keys = storage_contents(self.buffer).keys(include_nested=True, leaves_only=True)
            state[TRANSITIONS_DIR] = {"length": len(self.buffer), "keys": sorted(map(str, keys))}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if TRANSITIONS_DIR in state:
            self.pending = state  # applied once read_beside has put the transitions back
        else:
            load_replay_state_dict(self.buffer, state)

    def write_beside(self, folder: Path) -> None:
        if self.beside:
            storage_contents(self.buffer)[: len(self.buffer)].memmap(prefix=folder / TRANSITIONS_DIR, copy_existing=True)

    def read_beside(self, folder: Path) -> None:
        if self.pending is None:
            return
        state = dict(self.pending)
        expected = state.pop(TRANSITIONS_DIR)
        transitions = TensorDict.load_memmap(folder / TRANSITIONS_DIR, allow_pickle=False)
        keys = sorted(map(str, transitions.keys(include_nested=True, leaves_only=True)))
        if keys != expected["keys"] or transitions.shape[0] != expected["length"]:
            missing = sorted(set(expected["keys"]) - set(keys))
            raise ValueError(f"its replay transitions are incomplete (missing: {', '.join(missing) or 'rows'})")
        self.buffer.empty()
        rows = max(1, COPY_CHUNK_BYTES // max(1, transitions[:1].bytes()))
        for start in range(0, transitions.shape[0], rows):
            stop = min(start + rows, transitions.shape[0])
            self.buffer.storage.set(slice(start, stop), transitions[start:stop])
        load_replay_state_dict(self.buffer, state)
        self.pending = None


class CheckpointedRun(Protocol):
    """What a checkpoint policy reads of its run (the trainer): the config as it is now (its
    checkpoint section is live), the counters a checkpoint records, and the parts it saves."""

    run_dir: Path
    config: RunConfig
    counters: RunCounters
    record: RunRecord
    parts: RunParts


class CheckpointPolicy:
    """The checkpoints of one run."""

    def __init__(self, run: CheckpointedRun) -> None:
        self.run = run
        self.store = CheckpointStore(run.run_dir, run.config.checkpoint.keep)
        self.last_frames = 0

    def components(self, with_replay: bool) -> dict[str, Any]:
        parts = self.run.parts
        components: dict[str, Any] = {
            NETWORKS: parts.algorithm,
            "collector": parts.collector,
            "rng": GlobalRNGState(),
            "loggers": parts.loggers,
        }
        if with_replay and parts.algorithm.replay_buffer is not None:
            components["replay_buffer"] = ReplayBufferState(parts.algorithm.replay_buffer)
        return components

    def due(self) -> bool:
        every = self.run.config.checkpoint.every_frames
        return self.run.counters.frames // every > self.last_frames // every

    def save(self, announce_existing: bool = False) -> None:
        """Write a checkpoint, unless the newest one is already at this frame count (nothing has
        trained since): then only ``announce_existing`` (an explicit request) says where it is."""
        run = self.run
        frames = run.counters.frames
        latest = self.store.latest()
        if latest is not None and latest.name == str(frames):
            if announce_existing:
                run.record.emit(Checkpointed(str(latest)))
            return
        check_parameters(run.parts.algorithm.loss_module, frames)
        check_optimizers(run.parts.algorithm.optimizers(), frames)
        self.store.keep = run.config.checkpoint.keep
        with_replay = run.config.checkpoint.replay_buffer and self.replay_buffer_fits()
        try:
            path = self.store.save(frames, self.components(with_replay), run.counters.to_dict())
        except DiskFull as exc:
            kept = self.store.latest()
            raise TrainingFailed(
                f"disk full: {exc}; " + (f"the checkpoint at {kept.name} frames is intact: " if kept else "")
                + f"free some space, then `{resume_command(run.run_dir.name)}`"
            ) from None
        self.last_frames = frames
        run.record.emit(Checkpointed(str(path)))

    def replay_buffer_fits(self) -> bool:
        buffer = self.run.parts.algorithm.replay_buffer
        if buffer is None or len(buffer) == 0:  # nothing collected yet: nothing to save
            return False
        size = storage_bytes(buffer)  # the preallocated storage, of which the filled rows are saved
        if size is not None:
            size = size * len(buffer) // buffer.storage.max_size
        limit = shutil.disk_usage(self.run.run_dir).free // 4
        if size is not None and size > limit:
            self.run.record.log(
                f"replay buffer ({size / 1024**2:.0f} MiB) left out of the checkpoint: "
                f"over the {limit / 1024**2:.0f} MiB limit",
                "warning",
            )
            return False
        return True

    def restore(self) -> bool:
        """Load the newest checkpoint that loads; False when the run has none at all.

        Raises :class:`TrainingFailed` when there are checkpoints but none loads: starting at
        frame 0 would throw the run's history away, so that takes an explicit ``--from-scratch``.
        """
        run = self.run
        try:
            self.store.check_directory()
        except CheckpointUnusable as exc:
            raise TrainingFailed(str(exc)) from None
        candidates = self.store.candidates()
        problems = []
        for path in candidates:
            try:
                metadata, loaded, refused = self.store.load(path, self.components(with_replay=True))
                counters = RunCounters.from_dict(metadata)
                if counters.frames != int(path.name):
                    raise CheckpointUnusable(f"its metadata says {counters.frames} frames")
            except (CheckpointUnusable, ValueError, TypeError) as exc:
                problems.append(f"{path.name}: {exc}")
                run.record.log(f"checkpoint at {path.name} frames skipped: {exc}", "warning")
                continue
            for name in sorted(refused):
                run.record.log(
                    f"the {name} of the checkpoint at {path.name} frames is not in tui-rl's state-dict "
                    "form (TorchRL's dump holds pickle files, which are never loaded): left out",
                    "warning",
                )
            buffer = run.parts.algorithm.replay_buffer
            if buffer is not None and "replay_buffer" not in loaded:
                buffer.empty()  # a newer, broken checkpoint may have half-filled it; new experience refills it
            run.counters.copy_from(counters)
            self.last_frames = counters.frames
            return True
        if problems:
            raise TrainingFailed(
                f"none of the {len(problems)} checkpoints of this run can be loaded "
                f"({'; '.join(problems)}); the run folder and its history were left as they are. "
                f"To train it again from frame 0: `{resume_command(run.run_dir.name, '--from-scratch')}`"
            )
        return False
