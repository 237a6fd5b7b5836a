"""How fast a preset solves its env, with the engine's own training loop.

    python benchmarks/solve.py cartpole-ppo --seeds 0 1 2
    python benchmarks/solve.py pendulum-td3 lunarlander-ppo --seeds 0     # several presets in turn

For each preset and seed: the env steps and the training seconds (collection and updates; evaluation and
checkpoints excluded) until the mean evaluation return first reaches the preset's
``eval.target_return`` (or the whole budget when it does not), the wall-clock seconds with
evaluations, and the best and last evaluation returns; then the medians and whether every seed
reached the target. Each seed trains in its own temporary run folder.

Beside the wall-clock training seconds it prints the CPU seconds of the same work: on a machine
shared with other jobs the wall clock also counts time spent waiting for a core, CPU time not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class SeedResult:
    seed: int
    solved: bool
    frames: int
    train_seconds: float
    train_cpu_seconds: float
    wall_seconds: float
    best_eval: float | None
    last_eval: float | None


class TrainingCpuClock:
    """CPU time of training batches, from the trainer's events.

    Each batch ends with a Metrics event; any other event (an evaluation, a checkpoint) marks
    work that is not training, so only the CPU time between a mark and a Metrics event counts.
    """

    def __init__(self, target: float) -> None:
        self.target = target
        self.mark = time.process_time()
        self.seconds = 0.0
        self.at_solve: float | None = None

    def on_event(self, event) -> None:
        from tui_rl.engine.protocol import Evaluated, Metrics

        now = time.process_time()
        if isinstance(event, Metrics):
            self.seconds += now - self.mark
        if isinstance(event, Evaluated) and self.at_solve is None and event.mean_return >= self.target:
            self.at_solve = self.seconds
        self.mark = now


def solve_once(preset: str, seed: int, overrides: list[str]) -> SeedResult:
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.run.trainer import Trainer
    from tui_rl.engine.runs.record import create_run

    config = apply_overrides(load_preset(preset), [*overrides, f"env.seed={seed}"])
    if config.eval.target_return is None:
        raise SystemExit(f"{preset}: eval.target_return is not set, nothing to reach")
    # Checkpoints cost wall time only (they are not training time); keep just the final one.
    config = apply_overrides(config, [f"checkpoint.every_frames={config.collector.total_frames}"])
    with tempfile.TemporaryDirectory(prefix="tui-rl-solve-") as runs_dir:
        run_dir = create_run(config, name=f"seed-{seed}", runs_dir=Path(runs_dir), preset=preset)
        started = time.perf_counter()
        clock = TrainingCpuClock(config.eval.target_return)
        trainer = Trainer(config, run_dir, on_event=clock.on_event)
        state = trainer.run()
        wall = time.perf_counter() - started
    if state == "failed":
        raise SystemExit(f"{preset} seed {seed}: the run failed: {trainer.reason}")
    solved = trainer.counters.solved_frames is not None
    return SeedResult(
        seed=seed,
        solved=solved,
        frames=trainer.counters.solved_frames if solved else trainer.counters.frames,
        train_seconds=trainer.counters.solved_train_seconds if solved else trainer.counters.train_seconds,
        train_cpu_seconds=clock.at_solve if solved else clock.seconds,
        wall_seconds=wall,
        best_eval=trainer.counters.best_eval,
        last_eval=trainer.counters.last_eval,
    )


def solve_preset(preset: str, seeds: list[int], overrides: list[str]) -> bool:
    """Print the figures of ``preset`` over ``seeds``; True when every seed reached the target."""
    from tui_rl.config import apply_overrides, load_preset

    config = apply_overrides(load_preset(preset), overrides)
    target = config.eval.target_return
    print(
        f"{preset}: steps and training seconds to a mean eval return >= {target:g} "
        f"(budget {config.collector.total_frames:,} steps)",
        flush=True,
    )
    results = []
    for seed in seeds:
        result = solve_once(preset, seed, overrides)
        results.append(result)
        outcome = "solved" if result.solved else "NOT solved within the budget"
        best = "n/a" if result.best_eval is None else f"{result.best_eval:.1f}"
        last = "n/a" if result.last_eval is None else f"{result.last_eval:.1f}"
        print(
            f"  seed {seed}: {outcome} at {result.frames} steps, {result.train_seconds:.1f} s training "
            f"({result.train_cpu_seconds:.1f} s CPU; {result.wall_seconds:.1f} s wall with evaluations; "
            f"best eval {best}, last eval {last})",
            flush=True,
        )
    solved = [r for r in results if r.solved]
    if len(solved) < len(results):
        print(f"  {len(results) - len(solved)} of {len(results)} seeds did not reach the target")
    if solved:
        print(
            f"  median over solved seeds: {statistics.median(r.frames for r in solved):.0f} steps, "
            f"{statistics.median(r.train_seconds for r in solved):.1f} s training "
            f"(range {min(r.train_seconds for r in solved):.1f}-{max(r.train_seconds for r in solved):.1f} s), "
            f"{statistics.median(r.train_cpu_seconds for r in solved):.1f} s CPU, "
            f"{statistics.median(r.wall_seconds for r in solved):.1f} s wall"
        )
    print(f"  target reached: {'yes' if len(solved) == len(results) else 'NO'} ({len(solved)}/{len(results)} seeds)", flush=True)
    return len(solved) == len(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+", metavar="preset", help="preset names or TOML files")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    reached = [solve_preset(preset, args.seeds, args.overrides) for preset in args.presets]
    return 0 if all(reached) else 1


if __name__ == "__main__":
    sys.exit(main())
