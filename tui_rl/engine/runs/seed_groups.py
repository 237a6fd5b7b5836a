"""Seed groups: runs whose configs differ only by ``env.seed`` are one setup trained several times,
drawn as one curve with a confidence band and summarised by their final and best returns (see
``run_stats``). No torch import: the Runs pane groups runs before torch loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tui_rl.config.metrics import EPISODE_RETURN
from tui_rl.config import ConfigError, RunConfig
from tui_rl.engine.runs.stats import GroupCurve, ScoreSummary, group_curve, score_summary, smoothed
from tui_rl.engine.runs.folder import RunSummary, read_config, read_metrics

#: fields that do not make a setup: the seed, and the words describing it
NOT_SETUP = ("description",)


def setup_key(config: RunConfig) -> str:
    """What a run trains, seed left out: equal keys, one seed group."""
    data = config.model_dump(mode="json")
    for name in NOT_SETUP:
        data.pop(name, None)
    data["env"].pop("seed", None)
    return json.dumps(data, sort_keys=True)


@dataclass
class SeedGroup:
    """Two or more runs of one setup with different seeds, newest run first."""

    key: str
    runs: list[RunSummary] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The runs' common name stem (``cartpole-dqn-seed0`` and ``...-seed1``: ``cartpole-dqn``)."""
        names = [run.name for run in self.runs]
        stem = re.sub(r"[-_ ]*(seed)?[-_ ]*$", "", _common_prefix(names))
        return stem or names[-1]

    @property
    def run_dirs(self) -> list[Path]:
        return [Path(run.path) for run in self.runs]


def _common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)
    size = next((i for i, (a, b) in enumerate(zip(first, last)) if a != b), min(len(first), len(last)))
    return first[:size]


def seed_groups(runs: Sequence[RunSummary]) -> list[SeedGroup]:
    """The seed groups among ``runs`` (each read's config; an unreadable one joins none)."""
    groups: dict[str, SeedGroup] = {}
    for run in runs:
        try:
            config = read_config(Path(run.path))
        except (ConfigError, OSError):
            continue
        group = groups.setdefault(setup_key(config), SeedGroup(setup_key(config)))
        if config.env.seed not in group.seeds:
            group.runs.append(run)
            group.seeds.append(config.env.seed)
    return [group for group in groups.values() if len(group.runs) >= 2]


def return_curves(run_dirs: Sequence[Path]) -> list[list[tuple[int, float]]]:
    """Each run's episode return, smoothed as the charts draw it."""
    return [smoothed(read_metrics(run_dir).get(EPISODE_RETURN.name, [])) for run_dir in run_dirs]


def group_returns(group: SeedGroup) -> GroupCurve:
    """The group's smoothed return: mean and 95 % bootstrap band per frame."""
    return group_curve(return_curves(group.run_dirs))


def group_scores(group: SeedGroup) -> tuple[ScoreSummary | None, ScoreSummary | None]:
    """(final, best) evaluation returns of the group's runs with their intervals (None before
    every run has evaluated)."""
    finals = [run.last_eval for run in group.runs]
    bests = [run.best_eval for run in group.runs]
    if any(value is None for value in finals + bests):
        return None, None
    return score_summary(finals), score_summary(bests)
