"""Commands on a runs folder they cannot change as asked: one on a read-only filesystem, a run that
another resume took first, a study database whose attributes are damaged. Each says why, with no
traceback, and changes nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs, trained_run

from tui_rl.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("trained") / "runs")


def test_resuming_a_run_in_a_read_only_runs_folder_says_so(trained, small_filesystem, capsys):
    runs = small_filesystem("20m", read_only=True, holding=trained.parent) / "runs"
    assert main(["train", "--resume", "tiny", "--frames", "1024", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "its folder is not writable (Read-only file system)" in err and "Traceback" not in err


def test_a_search_in_a_read_only_runs_folder_says_so(trained, small_filesystem, capsys):
    needs("optuna", "optuna")
    from tui_rl.engine.search.study import create_study

    create_study(trained.parent, "kept", {"target": "cartpole-dqn"})
    runs = small_filesystem("20m", read_only=True, holding=trained.parent) / "runs"
    for command in (["--study", "kept"], ["cartpole-dqn", "--study", "new"]):
        assert main(["search", *command, "--trials", "1", "--runs-dir", str(runs)]) == 2
        err = capsys.readouterr().err
        assert f"cannot use the studies in {runs} (Read-only file system)" in err and "Traceback" not in err


def test_a_second_resume_started_at_once_says_the_run_is_busy_and_changes_nothing(trained, tmp_path, capsys):
    run_dir = Path(shutil.copytree(trained, tmp_path / "runs" / "tiny"))
    config = (run_dir / "config.toml").read_bytes()
    # the first resume: it holds the run and has not yet marked it running
    first = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tui_rl.engine.runs import liveness; liveness.hold(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(run_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "held\n"
        assert main(["train", "--resume", str(run_dir), "--frames", "2048"]) == 1
    finally:
        first.kill()
        first.wait()
    err = capsys.readouterr().err
    assert "run tiny is busy: another process is training it (`tui-rl attach tiny` shows it)" in err
    assert "Traceback" not in err and (run_dir / "config.toml").read_bytes() == config


def test_a_study_with_damaged_attributes_says_which(tmp_path, capsys):
    needs("optuna", "optuna")
    from tui_rl.engine.search.study import create_study, prune_requested
    from tui_rl.engine.search.view import trial_rows

    runs = tmp_path / "runs"
    runs.mkdir()
    study = create_study(runs, "received", {"target": "cartpole-dqn", "frames": "many"})
    damaged, whole = study.ask(), study.ask()
    damaged.set_user_attr("runs", 5)
    whole.set_user_attr("runs", ["received-t001-s0"])
    study.set_user_attr("prune_requested", "all of them")
    rows = trial_rows(study)
    assert rows[0].runs == [] and "damaged trial attributes (runs: 5 is not a list)" in rows[0].reason
    assert rows[1].runs == ["received-t001-s0"] and not prune_requested(study, 0)
    assert main(["search", "--study", "received", "--trials", "1", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "study received: its stored settings are damaged (frames: 'many' is not" in err
    assert "Traceback" not in err
