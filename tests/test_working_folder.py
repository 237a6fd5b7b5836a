"""A file in the folder tui-rl is started from never stands in for an installed package: a
``gymnasium.py`` there is not imported by any process tui-rl starts (a seed group's trainers,
search workers, a branch; serve's apps are in test_serve_e2e.py).

The top process is started with ``python -P``, as the installed ``tui-rl`` script is (a console
script puts its own folder on ``sys.path``, never the current one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import importers, shadowing_gymnasium, tiny_dqn

from tui_rl.config import save_file
from tui_rl.engine.run.branching import checkpoint_frames
from tui_rl.engine.runs.folder import list_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def folder(tmp_path):
    """The user's current folder, holding a ``gymnasium.py``; the marker folder it would write to."""
    work = tmp_path / "work"
    work.mkdir()
    shadowing_gymnasium(work, tmp_path / "imported")
    return work, tmp_path / "imported"


def tui_rl(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-P", "-m", "tui_rl.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_seeds_trained_in_parallel_and_a_branch_never_import_the_working_folder(folder, runs_dir, monkeypatch):
    work, marker = folder
    preset = work.parent / "tiny.toml"
    save_file(tiny_dqn(), preset)
    result = tui_rl("train", preset, "--seeds", "0", "1", "--parallel", "2", "--name", "pair",
                    "--runs-dir", runs_dir, cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert importers(marker) == []

    from tui_rl.tui.screens.branch.flow import make_branch
    from tui_rl.tui.screens.branch.dialog import BranchRequest

    parent = runs_dir / "pair-seed0"
    monkeypatch.chdir(work)  # the app's own folder: the user started `tui-rl` here
    answer = make_branch(parent, BranchRequest(at_frames=checkpoint_frames(parent)[-1]), fresh=False)
    assert "child" in answer, answer
    assert importers(marker) == []


def test_search_workers_never_import_the_working_folder(folder, runs_dir):
    work, marker = folder
    result = tui_rl("search", "cartpole-ppo", "--trials", "2", "--workers", "2", "--frames", "256", "--evals", "2",
                    "--set", "eval.episodes=1", "--set", "collector.frames_per_batch=128", "--runs-dir", runs_dir,
                    cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len([run for run in list_runs(runs_dir) if run.tags.get("study")]) == 2
    assert importers(marker) == []
