"""The run record: the one writer of a run folder's files (``config.toml``, ``run.json``,
``events.jsonl``, ``trainer.log``, trimmed metric series), from the folder's creation on.

The trainer keeps a :class:`RunRecord`: every event it emits is numbered and stamped here, the
logged ones are appended to the events log, and the summary in ``run.json`` is rewritten from its
state and :class:`RunCounters`. The control server records its address and a failure before any
trainer exists through :func:`record_address` and :func:`record_state`.

No torch import: the control server uses it before torch loads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import socket
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO, Callable

from tui_rl.config import RunConfig, save_file
from tui_rl.config.errors import shorten
from tui_rl.config.presets import name_problem
from tui_rl.engine.runs import liveness
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.protocol import LOGGED_EVENTS, Checkpointed, Evaluated, Event, Log, RunState, StatusChanged
from tui_rl.engine.runs.folder import (
    CONFIG_FILE,
    EVENTS_FILE,
    LOG_FILE,
    RUN_FILE,
    SCALARS_DIR,
    RunFolderError,
    RunSummary,
    metric_files,
    read_events,
    read_series,
    read_summary,
    refuse_links,
    resume_command,
)

#: how often run.json is refreshed with the frame count while training
SUMMARY_INTERVAL_S = 2.0
#: events after which run.json is rewritten at once
SUMMARY_EVENTS = (StatusChanged, Evaluated, Checkpointed)


class RunRecord:
    """What a trainer writes about its run: numbered events, the summary, the trainer log.

    ``counters`` is the trainer's own object (shared, not copied): the summary always shows the
    current values.
    """

    def __init__(
        self,
        run_dir: Path,
        counters: RunCounters,
        total_frames: int,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.counters = counters
        self.total_frames = total_frames
        self.on_event = on_event
        self.state: RunState = "starting"
        self.reason = ""
        self.summary = read_summary(self.run_dir)
        self.seq = max((e.seq for e in read_events(self.run_dir)), default=0)
        self._summary_written = 0.0

    def stamp(self, event: Event) -> Event:
        """Number ``event`` in the run's stream and date it (also for replies sent to one client)."""
        self.seq += 1
        event.seq = self.seq
        event.frames = self.counters.frames
        event.time = time.time()
        return event

    def emit(self, event: Event) -> None:
        self.stamp(event)
        if isinstance(event, LOGGED_EVENTS):
            append_event(self.run_dir, event)
        if isinstance(event, SUMMARY_EVENTS):
            self.write_summary()
        elif time.monotonic() - self._summary_written > SUMMARY_INTERVAL_S:
            self.write_summary()
        if self.on_event is not None:
            self.on_event(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message, level))

    def set_state(self, state: RunState, reason: str = "") -> None:
        self.state = state
        self.reason = reason
        self.emit(StatusChanged(state, reason, total_frames=self.total_frames))

    def fail(self, reason: str) -> None:
        try:
            self.append_to_log(f"run failed: {reason}\n")
        except OSError:  # a full disk: the state in run.json matters more than the log line
            pass
        self.set_state("failed", reason)

    def log_traceback(self) -> None:
        """The current exception's traceback, for the trainer log only (users see the reason)."""
        self.append_to_log(traceback.format_exc())

    def append_to_log(self, text: str) -> None:
        with open_appending(self.run_dir / LOG_FILE) as log:
            log.write(text.encode())

    def write_summary(self) -> None:
        summary = self.summary
        summary.copy_from(self.counters)
        summary.status = self.state
        summary.reason = self.reason
        summary.total_frames = self.total_frames
        summary.pid = os.getpid()
        summary.host = socket.gethostname()
        summary.updated = time.time()
        write_run_json(self.run_dir, summary)
        self._summary_written = time.monotonic()


def plain_library_log() -> None:
    """TorchRL's log lines without the colour codes its own formatter adds: the trainer's output
    is ``trainer.log``, a file that must read as plain text (call once torchrl is imported)."""
    for handler in logging.getLogger("torchrl").handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s][%(levelname)s] %(message)s"))


def record_address(run_dir: Path, socket_path: Path | str, pid: int, host: str) -> None:
    """Say in run.json where the run's control socket is and which process serves it."""
    summary = read_summary(run_dir)
    summary.socket = str(socket_path)
    summary.pid = pid
    summary.host = host
    write_run_json(run_dir, summary)


def record_lineage(run_dir: Path, parent: str, counters: RunCounters, fresh_networks: bool) -> None:
    """Say in a new run's run.json that it branched from ``parent`` at ``counters.frames`` (and
    starts from those counters: its frames, episodes and best evaluation so far)."""
    summary = read_summary(run_dir)
    summary.copy_from(counters)
    summary.parent, summary.parent_frames, summary.fresh_networks = parent, counters.frames, fresh_networks
    write_run_json(run_dir, summary)


def record_tags(run_dir: Path, tags: dict[str, str | int]) -> None:
    """Add ``tags`` to those run.json has (a search marks a trial's run it pruned)."""
    summary = read_summary(run_dir)
    summary.tags.update(tags)
    write_run_json(run_dir, summary)


def record_state(run_dir: Path, state: RunState, reason: str) -> StatusChanged:
    """Record a final state reached before a trainer was built (its config no longer loads, or a
    signal stopped it while torch was loading); returns the event, to tell the clients too."""
    summary = read_summary(run_dir)
    summary.status, summary.reason, summary.updated = state, reason, time.time()
    write_run_json(run_dir, summary)
    seq = max((e.seq for e in read_events(run_dir)), default=0) + 1
    event = StatusChanged(state, reason, seq=seq, frames=summary.frames, time=time.time())
    append_event(run_dir, event)
    return event


# ---- run folders and their files ------------------------------------------------------------------------------------


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
    config: RunConfig,
    *,
    name: str | None = None,
    runs_dir: Path = Path("runs"),
    preset: str = "",
    tags: dict[str, str | int] | None = None,
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
                f"or continue it with `{resume_command(name)}`"
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
        tags=dict(tags or {}),
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
    """``runs_dir`` exists as a folder this user can create runs in; RunFolderError says why not.
    A new one is owner-only: it holds every run's ``control.key`` and the search studies."""
    try:
        runs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    with open_appending(Path(run_dir) / EVENTS_FILE, read=True) as file:
        if file.seek(0, os.SEEK_END) > 0:
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                line = b"\n" + line  # end the line a killed trainer tore, so this one stays whole
        file.write(line)


def open_appending(path: Path, read: bool = False) -> BinaryIO:
    """``path`` opened to append bytes, never through a symbolic link (ELOOP instead)."""
    flags = (os.O_RDWR if read else os.O_WRONLY) | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
    return open(os.open(path, flags, 0o600), "ab+" if read else "ab")


def trim_metrics(run_dir: Path, frames: int) -> None:
    """Drop metric rows logged after ``frames``: a run resumed from a checkpoint at ``frames``
    (or an undo back to it) collects those frames again, and its series must go on without a
    step backwards.

    Each file is cut in place, never replaced: the trainer's CSV logger keeps it open for
    appending, and a replaced file would take every later row into a deleted one."""
    scalars = Path(run_dir) / SCALARS_DIR
    if not scalars.is_dir():
        return
    for path in metric_files(scalars):
        if scalars.is_symlink() or path.is_symlink():
            refuse_links(run_dir)  # names the link: a trim never cuts the file it points at
        rows = read_series(path)
        kept = [(step, value) for step, value in rows if step <= frames]
        if len(kept) == len(rows) and path.read_text().endswith("\n"):
            continue
        with open(path, "r+b") as file:
            file.write("".join(f"{step},{value}\n" for step, value in kept).encode())
            file.truncate()
