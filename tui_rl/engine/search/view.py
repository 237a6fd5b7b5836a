"""A study as the app and the CLI show it: trial rows, the best-so-far curve, parameter
importance, and the live training curves of the running trials (read from their run folders).

Torch-free: the app's search screen loads a :class:`StudyView` in a thread worker.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from tui_rl.config.metrics import EPISODE_RETURN
from tui_rl.engine.search import study as search_study
from tui_rl.engine.runs.folder import RunFolderError, read_metrics, read_summary
from tui_rl.engine.runs.typed_json import from_json

#: the training metric drawn for running trials
LIVE_METRIC = EPISODE_RETURN.name


@dataclass
class TrialRow:
    """One trial as a row: state, parameters, result, how far it trained, where it was pruned."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    best: float | None
    frames: int | None
    pruned_at: int | None
    runs: list[str] = field(default_factory=list)
    #: (evaluation step, return) as reported to the pruner
    curve: list[tuple[int, float]] = field(default_factory=list)
    reason: str = ""


@dataclass
class StudyView:
    """Everything the search screen draws of one study."""

    name: str
    rows: list[TrialRow]
    settings: dict[str, Any]
    importances: dict[str, float]
    stopping: bool
    #: trial number -> its first run's training returns, for the running trials
    live: dict[int, list[tuple[int, float]]] = field(default_factory=dict)

    @property
    def best_so_far(self) -> list[tuple[int, float]]:
        return best_so_far(self.rows)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self.rows:
            found[row.state] = found.get(row.state, 0) + 1
        return found


def load_view(runs_dir: Path, name: str, previous: StudyView | None = None) -> StudyView:
    """The study ``name`` now; the importances of ``previous`` are reused while no trial completed
    since (fANOVA fits a forest: not on every refresh)."""
    study = search_study.open_study(runs_dir, name)
    rows = trial_rows(study)
    live = {}
    for row in rows:
        if row.state == "running" and row.runs:
            run_dir = Path(runs_dir) / row.runs[-1]
            try:
                live[row.number] = read_metrics(run_dir).get(LIVE_METRIC, [])
                row.frames = (row.frames or 0) + read_summary(run_dir).frames
            except (OSError, RunFolderError):
                live[row.number] = []
    same = previous is not None and previous.name == name and completed(previous.rows) == completed(rows)
    return StudyView(name, rows, search_study.settings_of(study),
                     previous.importances if same and previous else importances(study),
                     search_study.stop_requested(study), live)


def completed(rows: list[TrialRow]) -> list[int]:
    return [row.number for row in rows if row.state == "complete"]


@dataclass
class TrialAttrs:
    """The user attributes a worker gives its trial, as read back and checked for their types."""

    frames: int | None = None
    pruned_at: int | None = None
    runs: list[str] = field(default_factory=list)
    reason: str = ""


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    rows = []
    for trial in study.get_trials(deepcopy=False):
        curve = sorted(trial.intermediate_values.items())
        values = [v for _, v in curve if math.isfinite(v)]
        try:
            attrs = from_json(TrialAttrs, trial.user_attrs)
        except ValueError as exc:  # a database from elsewhere may hold anything: the row still shows
            attrs = TrialAttrs(reason=f"damaged trial attributes ({exc})")
        rows.append(TrialRow(
            number=trial.number,
            state=trial.state.name.lower(),
            params=dict(trial.params),
            value=trial.value if trial.state == TrialState.COMPLETE else None,
            best=max(values) if values else None,
            curve=curve,
            **dataclasses.asdict(attrs),
        ))
    return rows


def best_so_far(rows: list[TrialRow]) -> list[tuple[int, float]]:
    """(trial number, best value of the completed trials up to it), for the best-so-far curve."""
    best, points = -math.inf, []
    for row in sorted(rows, key=lambda r: r.number):
        if row.value is not None and math.isfinite(row.value):
            best = max(best, row.value)
            points.append((row.number, best))
    return points


def importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's parameter importance (fANOVA) over the completed trials; empty until it can tell."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    varied = {name for t in complete for name in t.params if len({str(u.params.get(name)) for u in complete}) > 1}
    if len(complete) < 2 or not varied:
        return {}
    try:
        return optuna.importance.get_param_importances(study, params=sorted(varied))
    except (ValueError, RuntimeError):  # parameters that never vary together, a single value
        return {}
