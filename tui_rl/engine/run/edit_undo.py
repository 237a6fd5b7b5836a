"""Undoing live edits: every live edit first takes a checkpoint, so ``u`` can take the run back to
the state just before it (weights, optimiser, replay buffer, counters) with the old values.

The checkpoint is an ordinary one of the run (``checkpoint.keep`` may prune it after more
checkpoints; then only the values go back, and the event log says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_rl.config import edit
from tui_rl.engine.runs.checkpoints import CheckpointUnusable
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.protocol import Undone
from tui_rl.engine.runs.record import save_config, trim_metrics

if TYPE_CHECKING:
    from tui_rl.engine.run.trainer import Trainer


@dataclass
class EditMark:
    """The state before one live edit: its checkpoint's frame count and the values it replaced."""

    frames: int
    previous: dict[str, Any]


class EditUndo:
    """The live edits of one trainer that can still be undone, newest last."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.marks: list[EditMark] = []

    def before_edit(self, previous: dict[str, Any]) -> None:
        """Checkpoint now (unless one is already at this frame) and remember the old values."""
        self.trainer.checkpoints.save()
        self.marks.append(EditMark(self.trainer.counters.frames, dict(previous)))

    def undo(self) -> None:
        trainer = self.trainer
        if not self.marks:
            trainer.record.log("nothing to undo: no live edit since the run started", "warning")
            return
        mark = self.marks.pop()
        config = edit(trainer.config, mark.previous, live_only=True, source="undo")
        path = Path(trainer.checkpoints.store.directory) / str(mark.frames)
        rewound = False
        try:
            metadata, _loaded, _refused = trainer.checkpoints.store.load(
                path, trainer.checkpoints.components(with_replay=True)
            )
            trainer.counters.copy_from(RunCounters.from_dict(metadata))
            trim_metrics(trainer.run_dir, mark.frames)
            trainer.rewound(mark.frames)
            rewound = True
        except (CheckpointUnusable, FileNotFoundError, ValueError, TypeError) as exc:
            trainer.record.log(f"the checkpoint before that edit is gone ({exc}): only its values go back", "warning")
        trainer.config = trainer.parts.algorithm.config = config
        trainer.parts.algorithm.apply_hparams(config)
        save_config(trainer.run_dir, config)
        trainer.record.emit(Undone(mark.previous))
        where = f"back to frame {mark.frames}" if rewound else "values only"
        trainer.record.log(f"undid the edit of {', '.join(mark.previous)} ({where})")
