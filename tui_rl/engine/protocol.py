"""The messages between a trainer process and its clients (the app, the CLI).

Commands go in, events come out. All are plain dataclasses; on the control socket each travels as
a JSON header checked against these field types, and the tensors of a ``TENSORS`` field (rollouts
as TensorDicts, weights as state dicts) as a ``weights_only`` torch payload (see ``channel/wire.py``). Every event carries ``seq`` (its position in the run's event
stream, assigned by the trainer) and ``frames`` (the run's frame count when it happened), so a late
client can merge the on-disk history with the live stream without gaps or duplicates.

This module imports neither torch nor textual: the app imports it before its first paint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RunState = Literal["starting", "running", "paused", "finished", "stopped", "failed"]
FINAL_STATES = ("finished", "stopped", "failed")

#: field metadata: the value is tensors (a TensorDict or a dict of tensors), or None
TENSORS = {"tensors": True}


# ---- commands (client -> trainer) -------------------------------------------------------------


@dataclass
class Command:
    """Base of every command."""


@dataclass
class Pause(Command):
    """Stop collecting after the current batch; the process stays up and keeps serving commands."""


@dataclass
class Resume(Command):
    """Go on collecting after a pause."""


@dataclass
class StepBatch(Command):
    """While paused: collect and train on exactly one more batch, then pause again."""


@dataclass
class Stop(Command):
    """Checkpoint, then end the run with state ``stopped``."""


@dataclass
class SetHparams(Command):
    """Change live-tunable hyperparameters, ``{"optim.lr": 3e-4}``; applied before the next batch."""

    values: dict[str, Any]


@dataclass
class UndoEdit(Command):
    """Undo the last live edit: back to the checkpoint taken just before it, with the old values."""


@dataclass
class CheckpointNow(Command):
    """Write a checkpoint before the next batch."""


@dataclass
class SnapshotRollout(Command):
    """Ask for a rollout: the latest collected episode, a fresh evaluation episode or a replay sample."""

    source: Literal["latest", "eval", "replay"] = "latest"
    request_id: int = 0


@dataclass
class GetWeights(Command):
    """Ask for the current policy weights (a state dict on CPU), for the inspector."""

    request_id: int = 0


# ---- events (trainer -> clients) --------------------------------------------------------------


@dataclass
class Event:
    """Base of every event."""

    seq: int = field(default=0, kw_only=True)
    frames: int = field(default=0, kw_only=True)
    time: float = field(default=0.0, kw_only=True)


@dataclass
class StatusChanged(Event):
    """The run moved to ``state``; ``reason`` says why for stopped / failed."""

    state: RunState
    reason: str = ""
    total_frames: int = 0


@dataclass
class Metrics(Event):
    """Scalars logged at ``frames``: ``episode_return``, ``loss_qvalue``, ``epsilon``, ``fps``, ..."""

    values: dict[str, float]


@dataclass
class Evaluated(Event):
    """An evaluation: mean and std of the return over ``episodes`` episodes."""

    mean_return: float
    std_return: float
    episodes: int
    mean_length: float = 0.0


@dataclass
class HparamsChanged(Event):
    """Live hyperparameters that now hold, ``{"optim.lr": 3e-4}``, with their previous values."""

    changes: dict[str, Any]
    previous: dict[str, Any] = field(default_factory=dict)


@dataclass
class HparamsRejected(Event):
    """A ``SetHparams`` that was refused; the run goes on untouched."""

    values: dict[str, Any]
    reason: str


@dataclass
class Checkpointed(Event):
    """A checkpoint was written completely to ``path``."""

    path: str


@dataclass
class Log(Event):
    """A line for the event log: ``level`` is info, warning or error."""

    message: str
    level: Literal["info", "warning", "error"] = "info"


@dataclass
class Alert(Event):
    """A health alert: ``kind`` (nan, entropy_collapse, divergence, no_progress, target_reached),
    the ``metric`` it is about, what happened and what to try; ``paused`` when it paused the run."""

    kind: str
    metric: str
    message: str
    action: str = ""
    paused: bool = False


@dataclass
class Undone(Event):
    """A live edit was undone: the run went back to the checkpoint taken before it, at ``frames``,
    with the previous values ``restored``; clients reload the run's history from disk."""

    restored: dict[str, Any]


@dataclass
class RolloutReady(Event):
    """The answer to ``SnapshotRollout``: ``rollout`` is a TensorDict with batch size [T]."""

    source: str
    rollout: Any = field(metadata=TENSORS)
    request_id: int = 0


@dataclass
class WeightsReady(Event):
    """The answer to ``GetWeights``: ``state_dict`` of the policy module, on CPU."""

    state_dict: Any = field(metadata=TENSORS)
    request_id: int = 0


#: Events written to the run's events log (``events.jsonl``). Metrics go to the metric files;
#: rollouts and weights are answers, not history.
LOGGED_EVENTS = (StatusChanged, Evaluated, HparamsChanged, HparamsRejected, Checkpointed, Log, Alert, Undone)


def _subclasses(base: type) -> dict[str, type]:
    found, todo = {}, list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


#: every message by its type name: what the control channel accepts in each direction
COMMAND_TYPES: dict[str, type[Command]] = _subclasses(Command)
EVENT_TYPES: dict[str, type[Event]] = _subclasses(Event)
