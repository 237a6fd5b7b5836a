"""Run folders: where everything about one run lives, and how to read them back.

Layout of ``runs/<name>/``::

    config.toml        the resolved config (rewritten when live hyperparameters change)
    run.json           status summary, rewritten atomically by the trainer
    events.jsonl       logged events, one JSON object a line (status, evaluations, hparams, checkpoints)
    metrics/scalars/   one CSV per metric (TorchRL's CSVLogger): ``frames,value`` lines
    checkpoints/<frames>/  complete checkpoints (see ``checkpoint.py``)
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
import re
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_rl.config import RunConfig, load_file, save_file
from tui_rl.config.presets import name_problem
from tui_rl.config.errors import shorten
from tui_rl.engine import liveness, protocol
from tui_rl.engine.counters import COUNTER_FIELDS, RunCounters
from tui_rl.engine.protocol import FINAL_STATES, Event
from tui_rl.engine.typed_json import from_json

CONFIG_FILE = "config.toml"
RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
METRICS_DIR = "metrics"
SCALARS_DIR = Path(METRICS_DIR) / "scalars"
CHECKPOINTS_DIR = "checkpoints"
ROLLOUTS_DIR = "rollouts"
KEY_FILE = "control.key"
SOCKET_FILE = "control.sock"
LOG_FILE = "trainer.log"

#: the status :func:`list_runs` gives a folder whose run.json cannot be read; ``reason`` says why
UNREADABLE = "unreadable"
#: the largest pid a run.json may name (the kernel's PID_MAX_LIMIT)
MAX_PID = 2**22


class RunFolderError(ValueError):
    """A run that cannot be found or created; the message says which and why."""


@dataclass
class RunSummary(RunCounters):
    """What ``run.json`` says about a run, with the status corrected for a trainer that died.

    It carries the run's :class:`RunCounters` as flat fields (run.json keeps flat keys); the
    ``counters`` property gives them as one value.
    """

    name: str
    path: Path
    preset: str = ""
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


# ---- writing ------------------------------------------------------------------------------------


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` so that readers see the old or the new file, never a partial one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(data, file, indent=2, default=str)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_run(
    config: RunConfig, *, name: str | None = None, runs_dir: Path = Path("runs"), preset: str = ""
) -> Path:
    """Make a new run folder (owner-only) holding ``config`` and a ``starting`` summary.

    This process holds the run's lock from before run.json exists until it hands it to a trainer
    (or trains in-process), so a run can never look "starting" with nobody behind it."""
    runs_dir = Path(runs_dir)
    make_runs_dir(runs_dir)
    if name is not None:
        check_run_name(name)
        run_dir = runs_dir / name
        try:
            run_dir.mkdir(mode=0o700)
        except FileExistsError:
            raise RunFolderError(
                f"--name: a run called {name!r} already exists in {runs_dir}; choose another name, "
                f"or continue it with `tui-rl train --resume {name}`"
            ) from None
        except OSError as exc:  # /proc, a read-only disk
            raise cannot_create(runs_dir, exc) from None
    else:
        run_dir = make_unique_dir(runs_dir, default_run_name(config, preset))
    liveness.hold(run_dir)
    save_file(config, run_dir / CONFIG_FILE)
    now = time.time()
    summary = RunSummary(
        name=run_dir.name,
        path=run_dir,
        preset=preset,
        total_frames=config.collector.total_frames,
        env_id=config.env.id,
        algorithm=config.algorithm.name,
        created=now,
        updated=now,
    )
    write_run_json(run_dir, summary)
    return run_dir


def check_run_name(name: str) -> None:
    problem = name_problem(name)
    if problem:
        raise RunFolderError(f"--name: {shorten(name)} is not a usable run name: {problem}")


def make_runs_dir(runs_dir: Path) -> None:
    """``runs_dir`` exists as a folder this user can create runs in; RunFolderError says why not."""
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunFolderError(f"--runs-dir: {runs_dir} is a file, not a folder") from None
    except OSError as exc:
        raise cannot_create(runs_dir, exc) from None


def cannot_create(runs_dir: Path, exc: OSError) -> RunFolderError:
    return RunFolderError(f"--runs-dir: cannot create runs in {runs_dir} ({exc.strerror or exc})")


def default_run_name(config: RunConfig, preset: str) -> str:
    stem = Path(preset).stem if preset else f"{config.env.id.lower()}-{config.algorithm.name}"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-") or "run"  # env ids like ns/Name-v0
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def make_unique_dir(parent: Path, stem: str) -> Path:
    for suffix in ["", *(f"-{i}" for i in range(2, 1000))]:
        candidate = parent / f"{stem}{suffix}"
        try:
            candidate.mkdir(mode=0o700)
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise cannot_create(parent, exc) from None
    raise RunFolderError(f"cannot find a free run name like {stem!r} in {parent}")


def write_run_json(run_dir: Path, summary: RunSummary) -> None:
    data = summary.to_json()
    data.pop("path")
    write_json_atomic(Path(run_dir) / RUN_FILE, data)


def save_config(run_dir: Path, config: RunConfig) -> None:
    save_file(config, Path(run_dir) / CONFIG_FILE)


def event_to_json(event: Event) -> dict[str, Any]:
    return {"type": type(event).__name__, **dataclasses.asdict(event)}


def append_event(run_dir: Path, event: Event) -> None:
    """Append one logged event to ``events.jsonl`` (flushed at once; a torn last line is skipped on read)."""
    line = json.dumps(event_to_json(event), default=str, allow_nan=True).encode() + b"\n"
    with open(Path(run_dir) / EVENTS_FILE, "ab+") as file:
        if file.seek(0, os.SEEK_END) > 0:
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                line = b"\n" + line  # end the line a killed trainer tore, so this one stays whole
        file.write(line)


def trim_metrics(run_dir: Path, frames: int) -> None:
    """Drop metric rows logged after ``frames``: a run resumed from a checkpoint at ``frames``
    collects those frames again, and its series must go on without a step backwards."""
    scalars = Path(run_dir) / SCALARS_DIR
    if not scalars.is_dir():
        return
    for path in scalars.glob("*.csv"):
        rows = read_series(path)
        kept = [(step, value) for step, value in rows if step <= frames]
        if len(kept) == len(rows) and path.read_text().endswith("\n"):
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(f"{step},{value}\n" for step, value in kept))
        os.replace(tmp, path)


# ---- reading ------------------------------------------------------------------------------------


def read_config(run_dir: Path) -> RunConfig:
    return load_file(Path(run_dir) / CONFIG_FILE)


def read_summary(run_dir: Path) -> RunSummary:
    """run.json, each field checked for its type; RunFolderError says what is wrong."""
    run_dir = Path(run_dir)
    try:
        data = json.loads((run_dir / RUN_FILE).read_bytes().decode())
        summary = from_json(RunSummary, data, name=run_dir.name, path=run_dir)
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
            f"continue it with `tui-rl train --resume {run_dir.name}`"
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
    return {path.stem: read_series(path) for path in sorted(scalars.glob("*.csv"))}


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
