"""Branching a run ("what if?"): a new run folder that starts from one of a run's checkpoints with
any field of its config edited, so parent and child can train side by side.

The child holds a copy of the parent's checkpoint and records its lineage in run.json (parent run
and frame); its trainer starts as a resume does, from that checkpoint. An edit that changes the
networks' shapes (a layer size, another env's observations) no longer fits the checkpoint: the
branch is refused with the reason, or, when asked, starts its networks fresh at the parent's frame
count (no checkpoint is copied; the trainer sees the lineage and starts there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_rl.config import RunConfig, edit
from tui_rl.config.edit import field_value
from tui_rl.config.presets import name_problem
from tui_rl.engine.runs.checkpoints import NETWORKS, CheckpointStore, CheckpointUnusable
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.runs.reproduce import toml_value
from tui_rl.engine.runs.folder import read_config, read_summary
from tui_rl.engine.runs.record import create_run, record_lineage


class BranchRefused(ValueError):
    """A branch that cannot be made as asked; ``misfit`` when only the checkpoint does not fit the
    edited config (then it can start with fresh networks)."""

    def __init__(self, message: str, misfit: bool = False) -> None:
        super().__init__(message)
        self.misfit = misfit


@dataclass
class BranchPlan:
    """What a branch starts from: the parent's checkpoint, its counters, and the edited config."""

    parent_dir: Path
    checkpoint: Path
    counters: RunCounters
    config: RunConfig
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return self.counters.frames


def checkpoint_frames(run_dir: Path) -> list[int]:
    """The frame counts of a run's intact checkpoints, oldest first."""
    return [int(path.name) for path in CheckpointStore(run_dir, keep=1).checkpoints()]


def plan_branch(parent_dir: Path, changes: dict[str, Any], at_frames: int | None = None) -> BranchPlan:
    """Pick the checkpoint (the newest, or the one at ``at_frames``) and edit the parent's config;
    ConfigError names a field that does not validate or build, BranchRefused says what else is wrong."""
    from tui_rl.engine.run.preflight import check_buildable

    parent_dir = Path(parent_dir)
    store = CheckpointStore(parent_dir, keep=1)
    found = {int(path.name): path for path in store.checkpoints()}
    if not found:
        raise BranchRefused(f"run {parent_dir.name} has no checkpoint to branch from yet; take one first (c in Train)")
    frames = max(found) if at_frames is None else at_frames
    if frames not in found:
        raise BranchRefused(
            f"--checkpoint: run {parent_dir.name} has no checkpoint at {frames} frames "
            f"(it has: {', '.join(map(str, sorted(found)))})"
        )
    try:
        metadata = store.check(found[frames]).get("metadata", {})
        counters = RunCounters.from_dict(metadata)
    except (CheckpointUnusable, ValueError, TypeError) as exc:
        raise BranchRefused(f"the checkpoint at {frames} frames cannot be used: {exc}") from None
    config = edit(read_config(parent_dir), changes, source="--set")
    check_buildable(config, parent_dir.parent)
    return BranchPlan(parent_dir, found[frames], counters, config, dict(changes))


def misfit(plan: BranchPlan) -> str | None:
    """Which edit the parent's networks and replay buffer do not fit, with the value they were
    built with; None when they load into the edited config."""
    parent = read_config(plan.parent_dir)
    layout = collector_misfit(parent, plan.config)
    if layout:
        return layout
    problem = load_problem(plan, plan.config)
    if problem is None:
        return None
    # With several edits each is tried alone, to name the one to blame (most fit: a rate, a budget).
    blamed = [path for path in plan.changes
              if len(plan.changes) == 1 or load_problem(plan, edit(parent, {path: plan.changes[path]}))]
    if not blamed:
        return f"the checkpoint at {plan.frames} frames does not fit these edits together: {problem}"
    return "; ".join(f"{path}: {toml_value(plan.changes[path])} does not fit the checkpoint's networks, "
                     f"built with {built_with(parent, path)}" for path in blamed)


def built_with(parent: RunConfig, path: str) -> str:
    try:
        return toml_value(field_value(parent, path))
    except (AttributeError, KeyError, TypeError):  # a key the parent did not set: its default
        return "the default"


def load_problem(plan: BranchPlan, config: RunConfig) -> str | None:
    """Why the parent's checkpoint does not load into networks built from ``config`` (builds
    them and tries); None when it does."""
    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.run.checkpoint_policy import ReplayBufferState
    from tui_rl.engine.envs.making import make_env

    env = make_env(config)
    try:
        algorithm = build_algorithm(config, env)
        components: dict[str, Any] = {NETWORKS: algorithm}
        if algorithm.replay_buffer is not None:
            components["replay_buffer"] = ReplayBufferState(algorithm.replay_buffer)
        CheckpointStore(plan.parent_dir, keep=1).load(plan.checkpoint, components)
    except CheckpointUnusable as exc:
        return first_problem(str(exc))
    finally:
        env.close()
    return None


def collector_misfit(parent: RunConfig, child: RunConfig) -> str | None:
    """Why the parent's collector state (its workers' env state: VecNorm statistics, counters) does
    not load into the child's collector: it is laid out per backend and worker. An async processes
    collector saves none, so anything may follow it."""
    before, after = parent.collector, child.collector
    if before.backend == "processes" and not before.sync:
        return None
    if (before.backend, before.workers) == (after.backend, after.workers):
        return None
    return (f"collector.backend: the checkpoint holds the env state of a {before.backend} collector with "
            f"{before.workers} worker(s), which a {after.backend} one with {after.workers} cannot load")


def first_problem(text: str) -> str:
    """The telling line of a state-dict load error (torch lists every tensor after it; TensorDict
    prints its whole tree)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    telling = [line for line in lines if "size mismatch" in line or "Missing key" in line or "Unexpected key" in line]
    line = (telling or lines or ["it does not load"])[0].partition(" in tensordict TensorDict(")[0]
    return line if len(line) <= 240 else line[:237] + "..."


def branch_run(
    parent_dir: Path,
    changes: dict[str, Any],
    *,
    at_frames: int | None = None,
    name: str | None = None,
    fresh_networks: bool = False,
) -> Path:
    """Make the child run folder (beside the parent) and return it; its trainer is started by the
    caller, from the checkpoint, as a resume. BranchRefused(misfit=True) when the checkpoint does
    not fit the edits and ``fresh_networks`` was not asked for."""
    parent_dir = Path(parent_dir)
    plan = plan_branch(parent_dir, changes, at_frames)
    if not fresh_networks:
        reason = misfit(plan)
        if reason:
            raise BranchRefused(f"{reason}; branch with fresh networks to start them anew at this frame", misfit=True)
    parent = read_summary(parent_dir)
    child_name = name or branch_name(parent_dir, plan.frames)
    child = create_run(plan.config, name=child_name, runs_dir=parent_dir.parent, preset=parent.preset)
    if not fresh_networks:
        CheckpointStore(child, keep=plan.config.checkpoint.keep).adopt(plan.checkpoint)
    record_lineage(child, parent.name, plan.counters, fresh_networks)
    return child


def branch_name(parent_dir: Path, frames: int) -> str:
    """``<parent>-b<frames>``, numbered when taken; short enough to stay a usable run name."""
    stem = f"{parent_dir.name[:80]}-b{frames}"
    for suffix in ["", *(f"-{i}" for i in range(2, 1000))]:
        candidate = f"{stem}{suffix}"
        if not (parent_dir.parent / candidate).exists() and not name_problem(candidate):
            return candidate
    raise BranchRefused(f"cannot find a free name like {stem!r}")


def main(argv: list[str] | None = None) -> int:
    """``python -m tui_rl.engine.run.branching PARENT [--at N] [--changes JSON] [--fresh-networks]``:
    make a branch in a process of its own (the app's process cannot build a replay buffer: its
    stderr is not a file for multiprocessing's resource tracker). Prints one JSON line: the
    child's folder, or the error and whether it is a misfit."""
    import argparse
    import json

    from tui_rl.config import ConfigError
    from tui_rl.engine.runs.folder import RunFolderError

    parser = argparse.ArgumentParser(prog="tui_rl.engine.run.branching")
    parser.add_argument("parent", type=Path)
    parser.add_argument("--at", type=int)
    parser.add_argument("--changes", default="{}")
    parser.add_argument("--fresh-networks", action="store_true")
    args = parser.parse_args(argv)
    try:
        child = branch_run(args.parent, json.loads(args.changes), at_frames=args.at, fresh_networks=args.fresh_networks)
    except BranchRefused as exc:
        print(json.dumps({"error": str(exc), "misfit": exc.misfit}))
        return 1
    except (ConfigError, RunFolderError, OSError) as exc:
        print(json.dumps({"error": str(exc), "misfit": False}))
        return 1
    print(json.dumps({"child": str(child)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
