"""Run folders: where everything about one run lives, and how to read them back. ``runs/record.py``
writes their files, except the checkpoints (``runs/checkpoints.py``), the metric series
(``run/metric_loggers.py``), the control key (``channel/server.py``) and saved rollouts
(``inspect/rollouts.py``).

Layout of ``runs/<name>/``::

    config.toml        the resolved config (rewritten when live hyperparameters change)
    run.json           status summary, rewritten atomically by the trainer
    events.jsonl       logged events, one JSON object a line (status, evaluations, hparams, checkpoints)
    metrics/scalars/   one CSV per metric (TorchRL's CSVLogger): ``frames,value`` lines
    checkpoints/<frames>/  complete checkpoints (see ``checkpoints.py``)
    rollouts/          saved rollouts
    control.key        auth key of the control socket (0600); the socket path is in run.json
    run.lock           flock'd by the process that owns the run (see ``liveness.py``)
    trainer.log        stdout / stderr of the trainer process

No torch import: the app and ``tui-rl runs`` read run folders before (or without) loading torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_rl.config import RunConfig, load_file
from tui_rl.config.errors import shorten
from tui_rl.engine.runs import liveness
from tui_rl.engine import protocol
from tui_rl.engine.runs.counters import COUNTER_FIELDS, RunCounters
from tui_rl.engine.protocol import FINAL_STATES, Event
from tui_rl.engine.terminal_text import printable
from tui_rl.engine.runs.typed_json import from_json

CONFIG_FILE = "config.toml"
RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
METRICS_DIR = "metrics"
SCALARS_DIR = Path(METRICS_DIR) / "scalars"
CHECKPOINTS_DIR = "checkpoints"
ROLLOUTS_DIR = "rollouts"
#: the files of a memory-mapped replay storage (replay_buffer.storage = "memmap")
REPLAY_DIR = "replay"
KEY_FILE = "control.key"
SOCKET_FILE = "control.sock"
LOG_FILE = "trainer.log"

#: the status :func:`list_runs` gives a folder whose run.json cannot be read; ``reason`` says why
UNREADABLE = "unreadable"
#: the largest pid a run.json may name (the kernel's PID_MAX_LIMIT)
MAX_PID = 2**22


class RunFolderError(ValueError):
    """A run that cannot be found or created; the message says which and why."""


#: the tag a search puts on a trial's run when it prunes it: the frame count it was pruned at
PRUNED_TAG = "pruned_at"


@dataclass
class RunSummary(RunCounters):
    """What ``run.json`` says about a run, with the status corrected for a trainer that died.

    It carries the run's :class:`RunCounters` as flat fields (run.json keeps flat keys); the
    ``counters`` property gives them as one value.
    """

    name: str
    path: Path
    preset: str = ""
    #: what the run belongs to, such as a search trial: {"study": NAME, "trial": N}
    tags: dict[str, str | int] = field(default_factory=dict)
    status: str = "starting"
    reason: str = ""
    total_frames: int = 0
    env_id: str = ""
    algorithm: str = ""
    created: float = 0.0
    updated: float = 0.0
    pid: int | None = None
    host: str = ""
    socket: str = ""
    #: lineage: the run this one branched from (a run name in the same runs folder) and the
    #: frame count it branched at; ``fresh_networks`` when it kept the frames but not the weights
    parent: str = ""
    parent_frames: int | None = None
    fresh_networks: bool = False

    @property
    def shown_status(self) -> str:
        """The status as run lists show it: a search trial's run that its pruner stopped reads
        "pruned" (still "stopped" underneath: it can be continued like any stopped run)."""
        return "pruned" if self.status == "stopped" and PRUNED_TAG in self.tags else self.status

    @property
    def counters(self) -> RunCounters:
        return RunCounters(**{name: getattr(self, name) for name in COUNTER_FIELDS})

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass
class RunHistory:
    """Everything on disk about a run: the summary, every metric series and the logged events."""

    run_dir: Path
    summary: RunSummary
    #: metric name -> [(frames, value), ...] in logging order
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def last_seq(self) -> int:
        return max((e.seq for e in self.events), default=0)


# ---- reading ------------------------------------------------------------------------------------


def read_config(run_dir: Path) -> RunConfig:
    return load_file(Path(run_dir) / CONFIG_FILE)


def read_summary(run_dir: Path) -> RunSummary:
    """run.json, each field checked for its type; RunFolderError says what is wrong."""
    run_dir = Path(run_dir)
    try:
        data = json.loads((run_dir / RUN_FILE).read_bytes().decode())
        summary = from_json(RunSummary, data, name=printable(run_dir.name), path=run_dir)
    except OSError as exc:
        raise RunFolderError(f"{run_dir}: not a readable run folder ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, not an object, a wrong type
        raise RunFolderError(f"{run_dir}: {RUN_FILE} is damaged ({exc})") from None
    if summary.pid is not None and not 0 < summary.pid <= MAX_PID:
        raise RunFolderError(f"{run_dir}: {RUN_FILE} is damaged (pid: {summary.pid} is not a process id)")
    if summary.status not in FINAL_STATES and trainer_is_gone(summary):
        summary.status = "stopped"
        summary.reason = (
            "the trainer process ended without finishing (killed or crashed); "
            f"continue it with `{resume_command(run_dir.name)}`"
        )
    return summary


def trainer_is_gone(summary: RunSummary) -> bool:
    """Whether nobody owns the run any more: its lock is free. Runs without a lock file (older
    ones), and a lock this process holds while another trainer pid is recorded, are judged by the
    pid. Only judged on the host that ran it."""
    if summary.host and summary.host != socket.gethostname():
        return False  # another machine's lock may not show here
    held = liveness.is_held(summary.path)
    if held is False:
        return True
    if held and not (liveness.holds(summary.path) and summary.pid not in (None, os.getpid())):
        return False
    if summary.pid is None:
        return False
    try:
        os.kill(summary.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def read_series(path: Path) -> list[tuple[int, float]]:
    """One CSVLogger file as ``[(frames, value)]``; a torn last line (a killed writer) or a row
    that is not ``frames,value`` is skipped."""
    series = []
    try:
        text = Path(path).read_bytes().decode(errors="replace")
    except OSError:
        return series
    for line in text.splitlines():
        step, sep, value = line.partition(",")
        try:
            series.append((int(float(step)), float(value)))
        except (ValueError, OverflowError):  # OverflowError: a frame count of inf
            continue
    return series


def read_metrics(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    scalars = Path(run_dir) / SCALARS_DIR
    if not scalars.is_dir():
        return {}
    return {printable(metric_name(scalars, path)): read_series(path) for path in metric_files(scalars)}


def metric_files(scalars: Path) -> list[Path]:
    """The metric files of a run's ``scalars`` folder: one per metric, a per-group metric
    (``episode_return/<group>``, config/metrics.py) in a folder of its figure."""
    return sorted([*scalars.glob("*.csv"), *scalars.glob("*/*.csv")])


def metric_name(scalars: Path, path: Path) -> str:
    """A metric file's metric name: its path under ``scalars`` without the suffix."""
    return path.relative_to(scalars).with_suffix("").as_posix()


def event_from_json(data: Any) -> Event | None:
    """The event a line of events.jsonl holds, or None for a line this version cannot use."""
    cls = protocol.EVENT_TYPES.get(data.get("type")) if isinstance(data, dict) else None
    if cls is None:
        return None
    try:
        return from_json(cls, data)
    except (TypeError, ValueError):
        return None


def read_events(run_dir: Path) -> list[Event]:
    events = []
    try:
        lines = (Path(run_dir) / EVENTS_FILE).read_bytes().splitlines()
    except OSError:
        return events
    for line in lines:
        try:
            event = event_from_json(json.loads(line.decode()))
        except (ValueError, RecursionError):
            continue  # a line torn by a killed trainer, or not UTF-8 / JSON at all
        if event is not None:
            events.append(event)
    return events


def read_history(run_dir: Path) -> RunHistory:
    run_dir = Path(run_dir)
    return RunHistory(run_dir, read_summary(run_dir), read_metrics(run_dir), read_events(run_dir))


def is_run_dir(path: Path) -> bool:
    try:
        return (Path(path) / RUN_FILE).is_file()
    except (OSError, ValueError):  # a name too long for a path, or holding a NUL
        return False


def resume_command(name: str, *more: str) -> str:
    """The ``tui-rl train --resume NAME ...`` line a message suggests, shell-quoted and printable."""
    return printable(shlex.join(["tui-rl", "train", "--resume", name, *more]))


def refuse_links(run_dir: Path) -> None:
    """RunFolderError naming the first symbolic link in the run folder: a received folder could
    point its files (``replay/``, ``events.jsonl``, ``metrics/``, ``run.lock``) anywhere, and
    tui-rl and TorchRL's loggers write through them. Inside ``checkpoints/`` the checkpoint store
    judges links itself (a linked checkpoint is skipped, never read)."""
    run_dir = Path(run_dir)
    link = first_link(run_dir, leave_out=CHECKPOINTS_DIR)
    if link is not None:
        raise RunFolderError(
            f"{run_dir.name}: {link.relative_to(run_dir)} is a symbolic link (to "
            f"{shorten(os.readlink(link))}); tui-rl does not write through links in a run "
            "folder: put the file or folder itself there"
        )


def first_link(folder: Path, leave_out: str = "") -> Path | None:
    """The first symbolic link under ``folder`` (none followed), not looking inside its
    sub-folder ``leave_out``; None when there is none."""
    folder = Path(folder)
    for parent, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            if Path(parent, name).is_symlink():
                return Path(parent, name)
        if Path(parent) == folder:
            dirs[:] = [name for name in dirs if name != leave_out]
    return None


def list_runs(runs_dir: Path = Path("runs")) -> list[RunSummary]:
    """Every run under ``runs_dir``, newest first; one whose run.json cannot be read comes last,
    with status :data:`UNREADABLE` and the reason, so one damaged folder never hides the others."""
    runs_dir = Path(runs_dir)
    try:
        paths = [path for path in runs_dir.iterdir() if path.is_dir() and is_run_dir(path)]
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise RunFolderError(f"--runs-dir: {runs_dir} is a file, not a folder") from None
    except OSError as exc:
        raise RunFolderError(f"--runs-dir: cannot list {runs_dir} ({exc.strerror or exc})") from None
    summaries = []
    for path in paths:
        try:
            summaries.append(read_summary(path))
        except RunFolderError as exc:  # shown, with why, rather than hidden; last (created 0)
            reason = str(exc).removeprefix(f"{path}: ")
            summaries.append(RunSummary(name=path.name, path=path, status=UNREADABLE, reason=reason))
    return sorted(summaries, key=lambda s: s.created, reverse=True)


def resolve_run(name_or_path: str | Path, runs_dir: Path = Path("runs")) -> Path:
    """A run folder from its name (in ``runs_dir``) or its path."""
    path = Path(name_or_path)
    for candidate in (path, Path(runs_dir) / path):
        if is_run_dir(candidate):
            return candidate.resolve()
    known = ", ".join(s.name for s in list_runs(runs_dir)[:10]) or "none yet"
    raise RunFolderError(f"no run {shorten(str(name_or_path))} in {runs_dir} (runs there: {known})")
