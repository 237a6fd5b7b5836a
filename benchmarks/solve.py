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

    python benchmarks/solve.py cartpole-ppo cartpole-dqn pendulum-sac --seeds 0 1 2 --sb3

With ``--sb3`` each seed of a preset that has an RL Zoo recipe (cartpole-ppo, cartpole-dqn,
pendulum-sac; see benchmarks/sb3_solve.py) is followed by a Stable-Baselines3 run of the same seed
with RL Zoo's hyperparameters, evaluated at the same cadence and episode count, stopped at the same
target (EvalCallback + StopTrainingOnRewardThreshold), its training seconds counted the same way
(``learn()`` less its evaluations). The sides alternate so that a change of the machine's load
falls on both. SB3 runs in a side environment: ``--sb3-python``, else a venv at
~/.cache/tui-rl-bench/sb3-venv made on first use (``--system-site-packages`` plus this
interpreter's site-packages, so it shares torch, gymnasium and numpy, then ``pip install
stable-baselines3``); where that fails the SB3 side is skipped with a message. Then it prints the
medians' ratio, tui-rl / SB3, against the goal of 0.25.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sb3_solve import RECIPES

#: tui-rl's training seconds over SB3's, per preset median, that the comparison aims under
GOAL_RATIO = 0.25
SB3_VENV = Path.home() / ".cache" / "tui-rl-bench" / "sb3-venv"


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


def sb3_python(given: str | None) -> str | None:
    """An interpreter that imports stable_baselines3: ``given``, else the cached side venv (made here)."""
    def works(python: str) -> bool:
        try:
            probe = subprocess.run([python, "-c", "import stable_baselines3"], capture_output=True, text=True)
        except OSError:  # not an interpreter at all
            return False
        return probe.returncode == 0

    if given:
        if works(given):
            return given
        print(f"SB3 side skipped: {given} cannot import stable_baselines3")
        return None
    python = SB3_VENV / "bin" / "python"
    if python.exists() and works(str(python)):
        return str(python)
    print(f"making the SB3 side environment at {SB3_VENV} (pip install stable-baselines3) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(SB3_VENV)], check=True,
                       capture_output=True, text=True)
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        # This interpreter's packages (torch, gymnasium, numpy) come first: SB3 runs on the same ones.
        Path(site, "tui_rl_host.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "stable-baselines3"], check=True,
                       capture_output=True, text=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        print(f"SB3 side skipped: the side environment could not be made: {exc}\n{detail[-1500:]}")
        return None
    return str(python) if works(str(python)) else None


def sb3_once(python: str, preset: str, seed: int, every: int, episodes: int, target: float) -> SeedResult:
    command = [python, str(Path(__file__).with_name("sb3_solve.py")), preset, "--seed", str(seed),
               "--eval-every", str(every), "--episodes", str(episodes), "--target", str(target)]
    # Its own packages only: the side venv, not this process's PYTHONPATH (an editable checkout).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"SB3 {preset} seed {seed} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return SeedResult(seed=seed, solved=row["solved"], frames=row["steps"], train_seconds=row["train_seconds"],
                      train_cpu_seconds=row["train_cpu_seconds"], wall_seconds=row["wall_seconds"],
                      best_eval=row["best_eval"], last_eval=row["last_eval"])


def show_seed(side: str, result: SeedResult) -> None:
    outcome = "solved" if result.solved else "NOT solved within the budget"
    best = "n/a" if result.best_eval is None else f"{result.best_eval:.1f}"
    last = "n/a" if result.last_eval is None else f"{result.last_eval:.1f}"
    print(
        f"  seed {result.seed}{side}: {outcome} at {result.frames} steps, {result.train_seconds:.1f} s training "
        f"({result.train_cpu_seconds:.1f} s CPU; {result.wall_seconds:.1f} s wall with evaluations; "
        f"best eval {best}, last eval {last})",
        flush=True,
    )


def show_medians(side: str, results: list[SeedResult]) -> None:
    solved = [r for r in results if r.solved]
    if len(solved) < len(results):
        print(f"  {side}{len(results) - len(solved)} of {len(results)} seeds did not reach the target")
    if solved:
        print(
            f"  {side}median over solved seeds: {statistics.median(r.frames for r in solved):.0f} steps, "
            f"{statistics.median(r.train_seconds for r in solved):.1f} s training "
            f"(range {min(r.train_seconds for r in solved):.1f}-{max(r.train_seconds for r in solved):.1f} s), "
            f"{statistics.median(r.train_cpu_seconds for r in solved):.1f} s CPU, "
            f"{statistics.median(r.wall_seconds for r in solved):.1f} s wall"
        )
    print(f"  {side}target reached: {'yes' if len(solved) == len(results) else 'NO'} ({len(solved)}/{len(results)} seeds)",
          flush=True)


def show_ratio(ours: list[SeedResult], theirs: list[SeedResult]) -> None:
    """Medians over all seeds (a seed that did not solve counts its whole budget's seconds)."""
    def ratio(field: str) -> float:
        return statistics.median(getattr(r, field) for r in ours) / statistics.median(getattr(r, field) for r in theirs)

    wall, cpu = ratio("train_seconds"), ratio("train_cpu_seconds")
    steps = ratio("frames")
    met = "met" if wall <= GOAL_RATIO else "NOT met"
    print(f"  tui-rl / SB3 (medians): {wall:.3f}x training seconds, {cpu:.3f}x CPU seconds, {steps:.3f}x steps; "
          f"goal <= {GOAL_RATIO}x: {met}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
          flush=True)


def solve_preset(preset: str, seeds: list[int], overrides: list[str], sb3: str | None = None) -> bool:
    """Print the figures of ``preset`` over ``seeds``; True when every seed reached the target.

    With ``sb3`` (an interpreter that imports stable_baselines3) and an RL Zoo recipe for the
    preset, each seed's tui-rl run is followed by an SB3 run of the same seed.
    """
    from tui_rl.config import apply_overrides, load_preset

    config = apply_overrides(load_preset(preset), overrides)
    target = config.eval.target_return
    print(
        f"{preset}: steps and training seconds to a mean eval return >= {target:g} "
        f"(budget {config.collector.total_frames:,} steps)",
        flush=True,
    )
    if sb3 and preset not in RECIPES:
        print(f"  no RL Zoo recipe for {preset} (there are: {', '.join(RECIPES)}): tui-rl alone")
        sb3 = None
    if sb3:
        print(f"  SB3 {RECIPES[preset]['algo'].upper()} with RL Zoo's hyperparameters (budget "
              f"{RECIPES[preset]['n_timesteps']:,} steps), evaluated every {config.eval.every_frames} steps, "
              f"{config.eval.episodes} episodes; seeds alternate", flush=True)
    results, theirs = [], []
    for seed in seeds:
        results.append(solve_once(preset, seed, overrides))
        show_seed(" tui-rl" if sb3 else "", results[-1])
        if sb3:
            theirs.append(sb3_once(sb3, preset, seed, config.eval.every_frames, config.eval.episodes, target))
            show_seed(" SB3   ", theirs[-1])
    show_medians("tui-rl " if sb3 else "", results)
    if sb3:
        show_medians("SB3 ", theirs)
        show_ratio(results, theirs)
    return all(r.solved for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+", metavar="preset", help="preset names or TOML files")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--sb3", action="store_true", help="beside each seed, an SB3 run with RL Zoo's hyperparameters")
    parser.add_argument("--sb3-python", help="an interpreter that imports stable_baselines3 (default: a cached side venv)")
    args = parser.parse_args(argv)
    sb3 = sb3_python(args.sb3_python) if args.sb3 or args.sb3_python else None
    reached = [solve_preset(preset, args.seeds, args.overrides, sb3) for preset in args.presets]
    return 0 if all(reached) else 1


if __name__ == "__main__":
    sys.exit(main())
