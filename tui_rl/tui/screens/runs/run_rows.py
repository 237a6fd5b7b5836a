"""The rows of the Runs pane: seed groups with their runs under them, branches under their parent
(a tree), and the filter over any config field. Built in a thread worker from the run folders
(no torch), so the pane only draws them."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_rl.config import ConfigError
from tui_rl.engine.runs.diff import config_fields
from tui_rl.engine.runs.filter import Term, known_path, matches, run_fields
from tui_rl.engine.runs.folder import RunSummary, read_config
from tui_rl.engine.runs.seed_groups import SeedGroup, seed_groups

GROUP_PREFIX = "group:"


@dataclass
class RunRow:
    """One row: a run (``depth`` > 0 under a parent or a group), or a seed group's header."""

    key: str
    label: str
    run: RunSummary | None = None
    group: SeedGroup | None = None

    @property
    def run_dirs(self) -> list[Path]:
        return self.group.run_dirs if self.group else [Path(self.run.path)]


def group_key(group: SeedGroup) -> str:
    """A group's row key: stable across refreshes, distinct for two setups with one name stem."""
    return f"{GROUP_PREFIX}{group.name}:{hashlib.sha1(group.key.encode()).hexdigest()[:8]}"


def run_rows(runs: list[RunSummary], terms: list[Term] | None = None) -> tuple[list[RunRow], str]:
    """The rows for ``runs`` (newest first) that pass ``terms``, and a note when a term names a
    field no run has (a typo, said rather than showing nothing silently)."""
    fields: dict[str, dict[str, Any]] = {}
    for run in runs:
        try:
            data = config_fields(read_config(Path(run.path)))
        except (ConfigError, OSError):
            data = {}
        fields[run.name] = run_fields(run, data)
    note = ""
    if terms:
        unknown = {known_path(terms, f) for f in fields.values()}
        if fields and None not in unknown:
            note = f"no run has a field {sorted(unknown)[0]}"
        runs = [run for run in runs if matches(terms, fields[run.name])]
    names = {run.name for run in runs}
    children: dict[str, list[RunSummary]] = defaultdict(list)
    for run in reversed(runs):  # oldest branch first under its parent
        if run.parent in names and run.parent != run.name:
            children[run.parent].append(run)
    rows: list[RunRow] = []
    shown: set[str] = set()

    def add(run: RunSummary, depth: int) -> None:
        if run.name in shown:
            return
        shown.add(run.name)
        indent = "  " * (depth - 1) + "└ " if depth else ""
        rows.append(RunRow(run.name, indent + run.name, run=run))
        for child in children[run.name]:
            add(child, depth + 1)

    groups = {run.name: group for group in seed_groups(runs) for run in group.runs}
    for run in runs:
        if run.parent in names and run.parent != run.name:
            continue  # drawn under its parent
        group = groups.get(run.name)
        if group is None:
            add(run, 0)
        elif group_key(group) not in shown:
            shown.add(group_key(group))
            rows.append(RunRow(group_key(group), f"◆ {group.name} ×{len(group.runs)}", group=group))
            for member in group.runs:
                add(member, 1)
    return rows, note
