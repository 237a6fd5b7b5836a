"""Seed groups: `tui-rl train FILE --seeds ...` trains one setup per seed; runs differing only by
seed form a group whose mean curve has a 95 % bootstrap band and an IQM (rliable's definitions)."""

from __future__ import annotations

import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import PATIENCE_S, endless_dqn, wait_until

from tui_rl.cli import main
from tui_rl.config import to_toml
from tui_rl.engine.runs.stats import bootstrap_interval, iqm, score_summary, smoothed
from tui_rl.engine.runs.folder import is_run_dir, list_runs, read_config, read_summary
from tui_rl.engine.runs.seed_groups import group_returns, group_scores, return_curves, seed_groups


def test_iqm_is_the_mean_of_the_middle_half_and_intervals_hold_the_estimate():
    assert iqm(np.array([0.0, 1, 2, 3, 100])) == pytest.approx(2.0)  # trim_mean(x, 0.25): cut 1 each end
    assert iqm(np.array([5.0, 1, 2, 3, 4, 6, 7, 100])) == pytest.approx(4.5)  # cut 2 each end
    low, high = bootstrap_interval(np.array([1.0, 2, 3, 4, 5]))
    assert low < 3 < high and low >= 1 and high <= 5
    summary = score_summary([10.0, 10, 10])
    assert summary.mean_interval == (10.0, 10.0) and summary.iqm == 10.0
    assert smoothed([(1, 0.0), (2, 2.0), (3, 4.0)], window=2) == [(1, 0.0), (2, 1.0), (3, 3.0)]


@pytest.mark.slow
def test_five_seeds_make_a_group_whose_band_holds_the_mean(tiny_file, runs_dir, capsys):
    code = main(["train", str(tiny_file), "--seeds", "0", "1", "2", "3", "4", "--name", "tiny",
                 "--frames", "300", "--parallel", "1", "--runs-dir", str(runs_dir)])
    assert code == 0
    out = capsys.readouterr().out
    assert "seed group of 5 runs" in out and "IQM [95% CI]" in out
    runs = list_runs(runs_dir)
    assert sorted(r.name for r in runs) == [f"tiny-seed{s}" for s in range(5)]
    assert sorted(read_config(r.path).env.seed for r in runs) == [0, 1, 2, 3, 4]

    (group,) = seed_groups(runs)
    assert group.name == "tiny" and sorted(group.seeds) == [0, 1, 2, 3, 4]
    curve = group_returns(group)
    assert curve.runs.shape[0] == 5 and len(curve.frames) > 1
    # the band holds the mean point-wise, and lies within the runs' own curves
    assert np.all(curve.low <= curve.mean + 1e-9) and np.all(curve.mean <= curve.high + 1e-9)
    assert np.all(curve.low >= curve.runs.min(axis=0) - 1e-9) and np.all(curve.high <= curve.runs.max(axis=0) + 1e-9)
    assert len(return_curves(group.run_dirs)) == 5
    final, best = group_scores(group)
    assert final.mean_interval[0] <= final.mean <= final.mean_interval[1] and len(best.values) == 5

    # another setup is another group, and one run alone is no group
    main(["train", str(tiny_file), "--seeds", "0", "1", "--name", "lr", "--frames", "200",
          "--set", "optim.lr=0.01", "--parallel", "1", "--runs-dir", str(runs_dir)])
    groups = seed_groups(list_runs(runs_dir))
    assert sorted(g.name for g in groups) == ["lr", "tiny"]


@pytest.mark.slow
def test_seeds_side_by_side_train_in_their_own_processes(tiny_file, runs_dir, capsys):
    code = main(["train", str(tiny_file), "--seeds", "7", "8", "--name", "pair", "--frames", "200",
                 "--parallel", "2", "--runs-dir", str(runs_dir)])
    assert code == 0
    out = capsys.readouterr().out
    assert "pair-seed7: finished at 200 frames" in out and "pair-seed8: finished at 200 frames" in out
    assert [g.name for g in seed_groups(list_runs(runs_dir))] == ["pair"]


@pytest.mark.slow
def test_ctrl_c_stops_a_side_by_side_group_and_resume_finishes_what_is_left(tmp_path, runs_dir, capsys):
    preset = tmp_path / "endless.toml"
    preset.write_text(to_toml(endless_dqn("checkpoint.every_frames=100")))
    group = subprocess.Popen(
        [sys.executable, "-m", "tui_rl.cli", "train", str(preset), "--seeds", "0", "1", "2", "--parallel", "2",
         "--name", "grp", "--runs-dir", str(runs_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    runs = [runs_dir / f"grp-seed{seed}" for seed in range(3)]
    wait_until(lambda: all(is_run_dir(run) and read_summary(run).frames > 0 for run in runs[:2]),
               what="two seeds training")
    group.send_signal(signal.SIGINT)
    out, _ = group.communicate(timeout=PATIENCE_S)
    assert group.returncode == 0 and "Traceback" not in out, out
    assert "seed group grp: interrupted" in out and "tui-rl train --resume grp" in out
    summaries = [read_summary(run) for run in runs]
    assert [s.status for s in summaries] == ["stopped"] * 3  # no trainer goes on unannounced
    assert summaries[0].frames > 0 and "never started" in summaries[2].reason

    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    assert "seed group grp: interrupted" in capsys.readouterr().out

    resumed = subprocess.run(  # a small budget: the never-started seed trains it, the others are past it
        [sys.executable, "-m", "tui_rl.cli", "train", "--resume", "grp", "--frames", "200", "--parallel", "2",
         "--runs-dir", str(runs_dir)],
        capture_output=True, text=True, timeout=PATIENCE_S * 2,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "3 of 3 runs to finish" in resumed.stdout and "seed group of 3 runs" in resumed.stdout
    finished = [read_summary(run) for run in runs]
    assert [s.status for s in finished] == ["finished"] * 3
    assert all(after.frames >= before.frames for before, after in zip(summaries, finished))
