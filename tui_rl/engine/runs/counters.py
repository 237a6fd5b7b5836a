"""How far a run has come: the one shape of a run's counters.

The trainer keeps them, checkpoints carry them in their metadata, and ``run.json`` stores them as
flat keys (``RunSummary`` reads them back). No torch import: the app and ``tui-rl runs`` use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(kw_only=True)
class RunCounters:
    """Frames and episodes collected, training time, and evaluation results of one run.

    ``train_seconds`` counts collection and updates only (not evaluation, checkpoints or pauses);
    ``solved_frames`` / ``solved_train_seconds`` are set when an evaluation first reaches
    ``eval.target_return``.
    """

    frames: int = 0
    episodes: int = 0
    train_seconds: float = 0.0
    best_eval: float | None = None
    last_eval: float | None = None
    solved_frames: int | None = None
    solved_train_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COUNTER_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunCounters:
        """The counters in ``data`` (checkpoint metadata, run.json); other keys are ignored and
        missing ones keep their defaults, so older files still read. ValueError / TypeError for
        values of the wrong kind."""
        if not isinstance(data, dict):
            raise TypeError(f"counters must be a JSON object, not {type(data).__name__}")
        return RunCounters(
            **{name: COERCE[name](data[name]) for name in COUNTER_FIELDS if data.get(name) is not None}
        )

    def copy_from(self, other: RunCounters) -> None:
        for name in COUNTER_FIELDS:
            setattr(self, name, getattr(other, name))

    def record_eval(self, mean: float, target: float | None) -> bool:
        """Take an evaluation's mean return; True when it reaches ``target``."""
        self.last_eval = mean
        self.best_eval = mean if self.best_eval is None else max(self.best_eval, mean)
        reached = target is not None and mean >= target
        if reached and self.solved_frames is None:
            self.solved_frames = self.frames
            self.solved_train_seconds = self.train_seconds
        return reached


COERCE = {
    "frames": int,
    "episodes": int,
    "train_seconds": float,
    "best_eval": float,
    "last_eval": float,
    "solved_frames": int,
    "solved_train_seconds": float,
}

#: the counters' names, which are also run.json's keys for them
COUNTER_FIELDS = tuple(COERCE)
