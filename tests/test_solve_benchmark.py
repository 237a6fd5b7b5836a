"""benchmarks/solve.py beside Stable-Baselines3: without SB3 it still reports tui-rl's side."""

import os
import subprocess
import sys
from pathlib import Path


def test_solve_without_stable_baselines3_says_so_and_reports_tui_rl_alone(tmp_path):
    root = Path(__file__).parents[1]
    missing = tmp_path / "no-python-here"
    done = subprocess.run(
        [sys.executable, "benchmarks/solve.py", "cartpole-ppo", "--seeds", "0", "--sb3-python", str(missing),
         "--set", "collector.total_frames=256", "--set", "eval.every_frames=256", "--set", "eval.episodes=1"],
        capture_output=True, text=True, cwd=root, timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    output = done.stdout + done.stderr
    assert f"SB3 side skipped: {missing} cannot import stable_baselines3" in output, output
    assert "seed 0: NOT solved within the budget at 256 steps" in output, output
    assert "SB3 " not in output.split("cannot import stable_baselines3")[1], output  # no SB3 rows, no ratio
    assert "Traceback" not in output and done.returncode == 1, output
