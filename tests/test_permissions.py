"""What tui-rl creates is owner-only (the README's promise): a new runs folder (it holds every
run's control.key), the search studies' database, and a local Ray instance's token and session
folders, which Ray itself makes world-readable (token) and world-writable (sessions)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import needs, tiny_dqn

from tui_rl.engine.runs.record import create_run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The usual umask (022), whatever the test runner's: what tui-rl creates must not depend on it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_runs_folder_is_owner_only(tmp_path, open_umask):
    runs = tmp_path / "new" / "runs"
    run_dir = create_run(tiny_dqn(), name="first", runs_dir=runs)
    assert mode(runs) == 0o700 and mode(run_dir) == 0o700


def test_the_search_studies_database_is_owner_only(tmp_path, open_umask):
    needs("optuna", "optuna")
    from tui_rl.engine.search.study import create_study, study_db

    runs = tmp_path / "runs"
    runs.mkdir()
    create_study(runs, "study", settings={})
    database = study_db(runs)
    assert mode(database) == 0o600
    assert mode(database.with_name(f".{database.name}.lock")) == 0o600


@pytest.mark.slow
def test_a_local_ray_instance_keeps_its_token_and_sessions_owner_only(tmp_path, runs_dir, open_umask):
    needs("ray", "ray")
    home = tmp_path / "home"
    home.mkdir()
    temp = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))  # short: Ray's socket paths live under it
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tui_rl.cli", "train", "cartpole-dqn", "--frames", "200",
             "--set", "collector.backend=ray", "--set", "collector.frames_per_batch=100",
             "--set", "collector.init_random_frames=100", "--runs-dir", str(runs_dir)],
            env={**os.environ, "HOME": str(home), "TMPDIR": str(temp)}, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        token = home / ".ray" / "auth_token"
        assert mode(token) == 0o600 and mode(token.parent) == 0o700
        [private] = temp.glob("tui-rl-ray-*")
        assert mode(private) == 0o700
        assert list(private.glob("ray/session_*")), "Ray's sessions live in the private folder"
        assert not (temp / "ray").exists()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
