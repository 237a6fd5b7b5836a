"""Undoing live edits: every live edit first takes a checkpoint, so ``u`` can take the run back to
the state just before it (weights, optimiser, replay buffer, counters) with the old values.

The checkpoint is an ordinary one of the run (``checkpoint.keep`` may prune it after more
checkpoints; then only the values go back, and the event log says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tui_rl.engine.runs.checkpoints import CheckpointUnusable
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.protocol import Undone
from tui_rl.engine.runs.record import trim_metrics

if TYPE_CHECKING:
    from tui_rl.engine.run.checkpoint_policy import CheckpointPolicy
    from tui_rl.engine.runs.record import RunRecord


class EditableRun(Protocol):
    """What undo needs of its run (the trainer): its checkpoints and counters, and the two ways
    its state moves: a live change of values, and a rewind to a checkpoint's frame count."""

    run_dir: Path
    counters: RunCounters
    record: RunRecord
    checkpoints: CheckpointPolicy

    def apply_live(self, changes: Mapping[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def rewound(self, frames: int) -> None: ...


@dataclass
class EditMark:
    """The state before one live edit: its checkpoint's frame count and the values it replaced."""

    frames: int
    previous: dict[str, Any]


class EditUndo:
    """The live edits of one run that can still be undone, newest last."""

    def __init__(self, run: EditableRun) -> None:
        self.run = run
        self.marks: list[EditMark] = []

    def before_edit(self, previous: dict[str, Any]) -> None:
        """Checkpoint now (unless one is already at this frame) and remember the old values."""
        self.run.checkpoints.save()
        self.marks.append(EditMark(self.run.counters.frames, dict(previous)))

    def undo(self) -> None:
        run = self.run
        if not self.marks:
            run.record.log("nothing to undo: no live edit since the run started", "warning")
            return
        mark = self.marks.pop()
        checkpoints = run.checkpoints
        rewound = False
        try:
            metadata, _loaded, _refused = checkpoints.store.load(
                Path(checkpoints.store.directory) / str(mark.frames), checkpoints.components(with_replay=True)
            )
            run.counters.copy_from(RunCounters.from_dict(metadata))
            trim_metrics(run.run_dir, mark.frames)
            run.rewound(mark.frames)
            rewound = True
        except (CheckpointUnusable, FileNotFoundError, ValueError, TypeError) as exc:
            run.record.log(f"the checkpoint before that edit is gone ({exc}): only its values go back", "warning")
        run.apply_live(mark.previous, source="undo")
        run.record.emit(Undone(mark.previous))
        where = f"back to frame {mark.frames}" if rewound else "values only"
        run.record.log(f"undid the edit of {', '.join(mark.previous)} ({where})")
