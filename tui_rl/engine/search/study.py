"""A search's study: Optuna's RDB storage in one SQLite file in the runs folder, what a study
records about itself, its trials as the app and the CLI show them, and requests made from outside
(stop the search, prune a trial by hand).

The database is the one place a search lives: several ``tui-rl search`` processes (or machines
sharing the file) work on one study; a process that dies leaves its trial RUNNING, and the next
worker to look fails it (its process is gone on this host, or its heartbeat stopped) and queues
its parameters again, so a search survives a crash and resumes. Requests travel as the study's
user attributes, which Optuna never caches, so a worker sees them within a poll.

Torch-free: the app reads studies from a thread worker (see ``search/view.py``).
"""

from __future__ import annotations

import fcntl
import math
import os
import socket
import time
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from tui_rl.config.errors import shorten
from tui_rl.engine.runs.folder import RunFolderError
from tui_rl.engine.terminal_text import printable, printable_json
from tui_rl.engine.runs.typed_json import describe, fits

#: the SQLite file holding every study of a runs folder
STUDY_DB = "studies.db"
#: a worker marks its trial alive this often; one silent for STALE_AFTER_S is taken as dead
HEARTBEAT_S = 10.0
STALE_AFTER_S = 60.0
#: SQLite waits this long for another process's write lock before it gives up
LOCK_TIMEOUT_S = 60
#: trials that count towards the budget (failed ones do not: their parameters are retried or bad)
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
STOP_KEY, PRUNE_KEY, SETTINGS_KEY = "stop_requested", "prune_requested", "settings"
#: what a study's settings hold (the ``tui-rl search`` arguments every worker trains with), and their types
SETTING_TYPES: dict[str, Any] = {
    "target": str, "overrides": list[str], "frames": int | None, "evals": int, "seeds": int, "params": list[str],
    "startup": int, "pruner": Literal["median", "none"],
}

optuna.logging.set_verbosity(optuna.logging.WARNING)  # tui-rl says what happens, in its own words


def study_db(runs_dir: Path) -> Path:
    return Path(runs_dir) / STUDY_DB


def storage(runs_dir: Path) -> optuna.storages.RDBStorage:
    path = study_db(runs_dir).resolve()
    # Optuna makes the tables of a new file without a lock: two workers starting at once on a new
    # runs folder would both try (an IntegrityError), so the first one does it while holding this.
    try:
        lock = open(owner_only(path.with_name(f".{path.name}.lock")), "a")
    except OSError as exc:  # a runs folder this user cannot write in (read-only, another's)
        raise RunFolderError(f"--runs-dir: cannot use the studies in {runs_dir} ({exc.strerror or exc})") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        owner_only(path)  # SQLite takes an empty file as a new database, and gives its journals this mode
        return optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": LOCK_TIMEOUT_S}})


def owner_only(path: Path) -> Path:
    """``path``, created empty and owner-only (0600) unless it exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return path


def study_names(runs_dir: Path) -> list[str]:
    """The studies in a runs folder, newest first; none when it has no database."""
    if not study_db(runs_dir).is_file():
        return []
    studies = optuna.get_all_study_summaries(storage(runs_dir), include_best_trial=False)
    studies.sort(key=lambda s: s.datetime_start.timestamp() if s.datetime_start else math.inf, reverse=True)
    return [s.study_name for s in studies]


def open_study(runs_dir: Path, name: str, **kwargs: Any) -> optuna.Study:
    """An existing study (KeyError when there is none), with the sampler and pruner given."""
    return optuna.load_study(study_name=name, storage=storage(runs_dir), **kwargs)


def create_study(runs_dir: Path, name: str, settings: dict[str, Any], **kwargs: Any) -> optuna.Study:
    """The study ``name``, made with ``settings`` (what every worker trains) if new."""
    study = optuna.create_study(
        study_name=name, storage=storage(runs_dir), direction="maximize", load_if_exists=True, **kwargs
    )
    if SETTINGS_KEY not in study.user_attrs:
        study.set_user_attr(SETTINGS_KEY, settings)
    return study


def settings_of(study: optuna.Study) -> dict[str, Any]:
    """The settings stored in the study, each checked for its type (a database from elsewhere
    may hold anything); RunFolderError names a damaged one."""
    stored = study.user_attrs.get(SETTINGS_KEY, {})
    problem = "" if isinstance(stored, dict) else f"{shorten(stored)} is not a table"
    for key, hint in SETTING_TYPES.items():
        if not problem and key in stored and not fits(stored[key], hint):
            problem = f"{key}: {shorten(stored[key])} is not {describe(hint)}"
    if problem:
        raise RunFolderError(f"study {printable(study.study_name)}: its stored settings are damaged ({problem}); "
                             "name a new study with --study")
    return printable_json({key: stored[key] for key in SETTING_TYPES if key in stored})


# ---- requests from outside a worker -----------------------------------------------------------------


def request_stop(study: optuna.Study, stop: bool = True) -> None:
    """Ask every worker to prune its trial at once and start no new one (False: allow again)."""
    study.set_user_attr(STOP_KEY, stop)


def stop_requested(study: optuna.Study) -> bool:
    return bool(study.user_attrs.get(STOP_KEY))


def request_prune(study: optuna.Study, number: int) -> None:
    """Ask the worker running trial ``number`` to prune it now."""
    study.set_user_attr(PRUNE_KEY, sorted(set(prune_requests(study)) | {number}))


def prune_requested(study: optuna.Study, number: int) -> bool:
    return number in prune_requests(study)


def prune_requests(study: optuna.Study) -> list[int]:
    """The trial numbers asked to be pruned; none when the attribute holds something else."""
    numbers = study.user_attrs.get(PRUNE_KEY, [])
    return numbers if fits(numbers, list[int]) else []


# ---- workers and their trials ------------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_stale(trial: FrozenTrial, now: float) -> bool:
    """Whether a RUNNING trial's worker is gone: its process on this host, or its heartbeat."""
    host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid)):
        return True
    alive = trial.user_attrs.get("alive")
    started = trial.datetime_start.timestamp() if trial.datetime_start else now
    return now - (alive if isinstance(alive, (int, float)) else started) > STALE_AFTER_S


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials whose worker died, queueing their parameters again; their numbers."""
    now = time.time()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_stale(trial, now):
            continue
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        failed.append(trial.number)
    return failed


def counted_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))
