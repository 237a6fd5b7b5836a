"""A 12-trial hyperparameter search on cartpole-ppo: tui-rl beside RL Zoo's ``--optimize``.

    python benchmarks/search.py [--trials 12] [--frames 5000] [--evals 5] [--zoo-python PATH]

Both sides get the same budget: the same number of trials, frames per trial, evaluations per
trial (reported to a median pruner), evaluation episodes, random startup trials before TPE, and
RL Zoo's own PPO search space (tui-rl's default space is that one, mapped onto its fields; see
tui_rl/engine/search/space.py). Each side prints its best return (the mean evaluation return of
its best trial) and its wall time. Both run one after the other in this process's environment,
so on a shared machine the wall times include waiting for a core: compare them within one run.

The preset's target return is lifted out of reach, so no trial ends early (RL Zoo's do not).

RL Zoo runs as ``python -m rl_zoo3.train --algo ppo --env CartPole-v1 -optimize ...`` with the
interpreter of ``--zoo-python`` (or ``$TUI_RL_ZOO_PYTHON``, else this one). Where rl_zoo3 cannot
be imported, the script says so and reports tui-rl alone. One way to install the peer beside
tui-rl without pulling another torch: a venv whose ``.pth`` file adds tui-rl's site-packages,
then ``pip install rl_zoo3 torch==<the installed version>``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESET, ENV_ID = "cartpole-ppo", "CartPole-v1"


def run_tui_rl(args: argparse.Namespace, folder: Path) -> tuple[float | None, float, str]:
    """(best return, wall seconds, counts) of `tui-rl search` on the budget."""
    command = [sys.executable, "-m", "tui_rl.cli", "search", PRESET, "--trials", str(args.trials),
               "--frames", str(args.frames), "--evals", str(args.evals), "--startup", str(args.startup),
               "--set", f"eval.episodes={args.episodes}", "--set", "eval.target_return=1000",
               "--seed", str(args.seed), "--study", "bench", "--runs-dir", str(folder / "runs")]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"tui-rl search failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    from tui_rl.engine.search.study import open_study
    from tui_rl.engine.search.view import trial_rows

    rows = trial_rows(open_study(folder / "runs", "bench"))
    values = [r.value for r in rows if r.value is not None]
    counts = ", ".join(f"{sum(r.state == s for r in rows)} {s}" for s in ("complete", "pruned", "fail"))
    return (max(values) if values else None), wall, counts


def zoo_python(args: argparse.Namespace) -> str | None:
    python = args.zoo_python or os.environ.get("TUI_RL_ZOO_PYTHON") or sys.executable
    probe = subprocess.run([python, "-c", "import rl_zoo3, stable_baselines3"], capture_output=True, text=True)
    return python if probe.returncode == 0 else None


def run_zoo(args: argparse.Namespace, python: str, folder: Path) -> tuple[float | None, float, str]:
    """(best return, wall seconds, counts) of RL Zoo's --optimize on the same budget."""
    command = [python, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", ENV_ID, "-optimize",
               "--n-trials", str(args.trials), "--n-timesteps", str(args.frames),
               "--n-evaluations", str(args.evals), "--eval-episodes", str(args.episodes),
               "--n-startup-trials", str(args.startup), "--sampler", "tpe", "--pruner", "median",
               "--n-jobs", "1", "--num-threads", "1", "--seed", str(args.seed), "--device", "cpu", "--no-optim-plots",
               "-f", str(folder / "zoo")]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    wall = time.perf_counter() - started
    reports = sorted((folder / "zoo").glob("ppo/report_*.csv"))
    if result.returncode != 0 or not reports:
        sys.exit(f"rl_zoo3 failed ({result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
    with open(reports[-1]) as file:  # its trials_dataframe(): one row per trial
        trials = list(csv.DictReader(file))
    values = [float(t["value"]) for t in trials if t["state"] == "COMPLETE" and t["value"]]
    counts = ", ".join(f"{sum(t['state'] == s for t in trials)} {s.lower()}" for s in ("COMPLETE", "PRUNED", "FAIL"))
    return (max(values) if values else None), wall, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--frames", type=int, default=5_000, help="frames (timesteps) per trial")
    parser.add_argument("--evals", type=int, default=5, help="evaluations per trial, for the pruner")
    parser.add_argument("--episodes", type=int, default=5, help="episodes per evaluation")
    parser.add_argument("--startup", type=int, default=5, help="random trials before TPE and pruning")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zoo-python", help="a Python with rl_zoo3 installed")
    args = parser.parse_args()
    print(f"search on {PRESET}: {args.trials} trials x {args.frames} frames, {args.evals} evaluations of "
          f"{args.episodes} episodes each, TPE after {args.startup} random trials, median pruner")
    print(f"{'':20} {'best return':>11} {'wall s':>8}  trials")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tui-rl-search-bench-") as tmp:
        rows.append(show("tui-rl search", *run_tui_rl(args, Path(tmp))))
        python = zoo_python(args)
        if python is None:
            print("RL Zoo: rl_zoo3 cannot be imported here (give --zoo-python or $TUI_RL_ZOO_PYTHON); "
                  "reporting tui-rl alone")
        else:
            rows.append(show("rl_zoo3 --optimize", *run_zoo(args, python, Path(tmp))))
    if len(rows) == 2:
        print(f"wall time ratio tui-rl / RL Zoo: {rows[0][1] / rows[1][1]:.2f}")


def show(name: str, best: float | None, wall: float, counts: str) -> tuple[float | None, float]:
    shown = "-" if best is None else f"{best:.1f}"
    print(f"{name:20} {shown:>11} {wall:8.1f}  {counts}", flush=True)
    return best, wall


if __name__ == "__main__":
    main()
