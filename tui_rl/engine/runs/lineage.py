"""Run lineage read back: a branched run's curves go on from its parent's (up to the branch point,
through every ancestor), and its sibling branches are drawn beside it. No torch import."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui_rl.config.metrics import EPISODE_RETURN
from tui_rl.engine.runs.stats import smoothed
from tui_rl.engine.runs.folder import RunFolderError, is_run_dir, list_runs, read_metrics, read_summary

#: ancestors followed at most (a hand-edited run.json could make a loop)
MAX_DEPTH = 32

Series = list[tuple[int, float]]


@dataclass
class Lineage:
    """What a run inherits: its ancestors' metric rows before each branch point, the frames it
    branched at (each ancestor's, newest first), and its sibling branches' smoothed returns."""

    inherited: dict[str, Series] = field(default_factory=dict)
    branch_points: list[tuple[int, str]] = field(default_factory=list)
    siblings: list[tuple[str, Series]] = field(default_factory=list)


def read_lineage(run_dir: Path) -> Lineage:
    run_dir = Path(run_dir)
    lineage = Lineage()
    try:
        summary = read_summary(run_dir)
    except RunFolderError:
        return lineage
    parent_name, until = summary.parent, summary.parent_frames
    chain: list[tuple[Path, int]] = []
    while parent_name and until is not None and len(chain) < MAX_DEPTH:
        parent_dir = run_dir.parent / parent_name
        if not is_run_dir(parent_dir) or any(parent_dir == seen for seen, _ in chain):
            break
        chain.append((parent_dir, until))
        lineage.branch_points.append((until, f"from {parent_name}"))
        try:
            parent = read_summary(parent_dir)
        except RunFolderError:
            break
        parent_name, until = parent.parent, parent.parent_frames
    for parent_dir, until in reversed(chain):  # oldest first: the series stay in frame order
        for name, series in read_metrics(parent_dir).items():
            kept = lineage.inherited.setdefault(name, [])
            start = kept[-1][0] if kept else -1
            kept.extend((frames, value) for frames, value in series if start < frames <= until)
    if summary.parent:
        lineage.siblings = [
            (other.name, smoothed(read_metrics(Path(other.path)).get(EPISODE_RETURN.name, [])))
            for other in list_runs(run_dir.parent)
            if other.parent == summary.parent and other.name != summary.name
        ]
    return lineage
