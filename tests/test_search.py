"""`tui-rl search`: the space, bad input, pruning, a killed search resumed, two processes on one study.

Searches run as a user runs them (real subprocesses, real training of a few hundred frames per
trial); the study is read back through Optuna's storage in the runs folder.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs, wait_until
from helpers import TINY_SEARCH

from tui_rl.cli import main
from tui_rl.config import ConfigError, RunConfig, apply_overrides, edit
from tui_rl.config.algorithms import ALGORITHMS
from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.protocol import StatusChanged
from tui_rl.engine.runs.folder import read_events, read_summary
from tui_rl.engine.search.space import build_space, default_space, parse_param


#: CartPole cut at 3 steps returns 3, far below any policy that may run 500: a poor setting
POOR = ["--param", "env.max_episode_steps=choice(500,3)"]


def search(*args, runs_dir: Path, popen: bool = False):
    command = [sys.executable, "-m", "tui_rl.cli", "search", *map(str, args), "--runs-dir", str(runs_dir)]
    if popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def study(runs_dir: Path, name: str):
    from tui_rl.engine.search.study import open_study

    return open_study(runs_dir, name)


def trials_so_far(runs_dir: Path, name: str) -> list:
    """The study's trials; none while the study is not made yet."""
    if not runs_dir.joinpath("studies.db").exists():
        return []
    try:
        return study(runs_dir, name).get_trials()
    except KeyError:
        return []


def training_after_a_completed_trial(runs_dir: Path, name: str, checkpointed: bool = False) -> bool:
    trials = trials_so_far(runs_dir, name)
    return any(t.state.name == "COMPLETE" for t in trials) and any(
        t.state.name == "RUNNING" and "runs" in t.user_attrs
        and (not checkpointed or CheckpointStore(runs_dir / t.user_attrs["runs"][0], keep=1).latest() is not None)
        for t in trials)


# ---- the space ------------------------------------------------------------------------------------


def test_param_expressions_read_as_distributions():
    assert str(parse_param("optim.lr=loguniform(1e-4, 1e-2)")) == "optim.lr=loguniform(0.0001,0.01)"
    spec = parse_param('network.hidden_sizes=choice([64],[64, 64],"x,y")')
    assert spec.kind == "choice" and spec.choices == ([64], [64, 64], "x,y")
    assert parse_param("algorithm.epochs=int(1,20)").corners() == [1, 20]
    for bad, words in [
        ("optim.lr", "expected PATH=KIND(ARGS)"),
        ("optim.lr=normal(0,1)", "unknown distribution 'normal'"),
        ("optim.lr=loguniform(1e-2)", "takes two finite numbers"),
        ("optim.lr=uniform(0.2,0.1)", "low must be below high"),
        ("optim.lr=loguniform(0,1)", "positive low end"),
        ("algorithm.epochs=int(1,2.5)", "whole numbers"),
        ("algorithm.gamma=choice()", "at least one value"),
    ]:
        with pytest.raises(ConfigError, match="optim.lr|algorithm") as caught:
            parse_param(bad)
        assert words in str(caught.value)


def test_a_space_is_checked_against_the_config_model():
    config = RunConfig()
    with pytest.raises(ConfigError) as caught:
        build_space(config, ["optim.lrx=loguniform(1e-4,1e-2)"])
    assert caught.value.errors[0].path == "optim.lrx"
    with pytest.raises(ConfigError, match="optim.lr"):
        build_space(config, ["optim.lr=loguniform(1e-4,5)"])  # lr is at most 1
    with pytest.raises(ConfigError, match="given twice"):
        build_space(config, ["optim.lr=uniform(0.1,0.2)", "optim.lr=uniform(0.1,0.3)"])


@pytest.mark.parametrize("algorithm", [name for name, section in ALGORITHMS.items() if section.search_space])
def test_the_default_space_the_registry_names_fits_its_algorithms_config(algorithm):
    config = edit(RunConfig(), {"algorithm.name": algorithm})
    space = build_space(config, [])  # raises for a field the algorithm does not have
    assert [str(s) for s in space] == [str(s) for s in default_space(algorithm)]
    assert {"algorithm.gamma", "optim.lr"} <= {s.path for s in space}


def test_an_algorithm_without_a_default_space_is_searched_only_over_the_params_given(monkeypatch):
    config = edit(RunConfig(), {"algorithm.name": "td3"})
    monkeypatch.setattr(ALGORITHMS["td3"], "search_space", None)
    with pytest.raises(ConfigError) as caught:
        build_space(config, [])
    assert caught.value.errors[0].path == "algorithm.name"
    assert "td3 has no default search space" in str(caught.value) and "--param" in str(caught.value)
    assert [s.path for s in build_space(config, ["algorithm.policy_delay=int(1,4)"])] == ["algorithm.policy_delay"]


def test_a_bad_param_exits_2_naming_it_before_anything_starts(runs_dir):
    needs("optuna", "optuna")
    result = search("cartpole-ppo", "--trials", "2", "--param", "optim.lrx=choice(1e-3,1e-4)", runs_dir=runs_dir)
    assert result.returncode == 2
    assert "optim.lrx: unknown field" in result.stderr and "Traceback" not in result.stderr
    result = search("cartpole-ppo", "--trials", "2", "--param", "optim.lr=logunif(1e-4,1e-2)", runs_dir=runs_dir)
    assert result.returncode == 2 and "unknown distribution 'logunif'" in result.stderr
    assert not runs_dir.exists()  # no study, no run


def test_seeds_is_trains_list_so_search_refuses_it_naming_its_own_count(runs_dir, capsys):
    assert main(["search", "cartpole-ppo", "--trials", "2", "--seeds", "3", "--runs-dir", str(runs_dir)]) == 2
    err = capsys.readouterr().err
    assert "--seeds: search takes --seeds-per-trial N" in err and "Traceback" not in err
    assert main(["search", "cartpole-ppo", "--trials", "2", "--seeds-per-trial", "0", "--runs-dir", str(runs_dir)]) == 2
    assert "--seeds-per-trial: must be 1 to 100, not 0" in capsys.readouterr().err
    assert not runs_dir.exists()  # no study, no run


# ---- searches -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_poor_setting_is_pruned_at_an_evaluation(runs_dir, capsys):
    needs("optuna", "optuna")
    # seed 4: the first trial runs the good setting, a later one the poor one (TPE is seeded)
    result = search("cartpole-ppo", "--trials", "4", *TINY_SEARCH, *POOR, "--startup", "1", "--seed", "4",
                    "--study", "poor", runs_dir=runs_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = study(runs_dir, "poor").get_trials()
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert len(trials) == 4 and pruned, result.stdout
    for trial in pruned:
        assert trial.params == {"env.max_episode_steps": 3}
        run = read_summary(runs_dir / trial.user_attrs["runs"][0])
        assert run.tags == {"study": "poor", "trial": trial.number, "pruned_at": run.frames}
        assert run.status == "stopped" and "pruned at frame" in run.reason
        assert run.frames < 384 and trial.user_attrs["pruned_at"] == run.frames
    assert f"trial {pruned[0].number}: pruned" in result.stdout
    assert "best: trial" in result.stdout
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    listed = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    for trial in pruned:
        cells = listed[trial.user_attrs["runs"][0]]
        assert "pruned" in cells and "stopped" not in cells


def test_the_best_trials_set_options_are_quoted_for_a_shell(runs_dir, capsys):
    needs("optuna", "optuna")
    from tui_rl.cli.search import report
    from tui_rl.engine.search.study import create_study

    runs_dir.mkdir()
    told = create_study(runs_dir, "demo", {})
    trial = told.ask()
    chosen = parse_param("network.hidden_sizes=choice([64,64],[256,256])").suggest(trial)
    told.tell(trial, 100.0)
    report(told)
    words = shlex.split(capsys.readouterr().out.splitlines()[-1])
    assert words[0] == "--set" and apply_overrides(RunConfig(), words[1::2]).network.hidden_sizes == chosen


@pytest.mark.slow
def test_a_killed_search_resumes_keeping_its_completed_trials(runs_dir):
    needs("optuna", "optuna")
    args = ("cartpole-ppo", "--trials", "3", *TINY_SEARCH, "--param", "optim.lr=loguniform(1e-4,1e-2)", "--seed", "1",
            "--study", "crash", "--set", "checkpoint.every_frames=128")
    process = search(*args, runs_dir=runs_dir, popen=True)
    try:
        wait_until(lambda: training_after_a_completed_trial(runs_dir, "crash", checkpointed=True),
                   what="a trial completed and the next one checkpointed")
    finally:
        process.send_signal(signal.SIGKILL)  # no handler, no finally: the trial is left RUNNING
        process.communicate()
    before = {t.number: t for t in study(runs_dir, "crash").get_trials()}
    completed = {n: t.value for n, t in before.items() if t.state.name == "COMPLETE"}
    killed = [t for t in before.values() if t.state.name == "RUNNING"]
    assert completed and len(killed) == 1

    result = search("--study", "crash", "--trials", "3", runs_dir=runs_dir)  # the study knows the rest
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"trial {killed[0].number}: its worker is gone" in result.stdout
    assert "goes on from its runs' last checkpoints" in " ".join(result.stdout.split())
    after = study(runs_dir, "crash").get_trials()
    assert {t.number: t.value for t in after if t.number in completed} == completed
    assert after[killed[0].number].state.name == "FAIL"
    retried = [t for t in after if t.user_attrs.get("retry_of") == killed[0].number]
    assert retried and retried[0].params == killed[0].params
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in after) == 3
    # the retry went on with the killed trial's run from its checkpoint: no run of its own, frames not lost
    killed_run = killed[0].user_attrs["runs"][0]
    assert f"goes on with {killed_run} from its checkpoint at" in result.stdout
    assert retried[0].user_attrs["runs"] == [killed_run]
    assert not (runs_dir / f"crash-t{retried[0].number:03d}").exists()
    summary = read_summary(runs_dir / killed_run)
    assert (summary.status, summary.frames, summary.tags["trial"]) == ("finished", 384, retried[0].number)
    resumed = [e for e in read_events(runs_dir / killed_run) if isinstance(e, StatusChanged) and e.state == "running"]
    assert len(resumed) == 2 and resumed[1].frames > 0  # it started again past frame 0


@pytest.mark.slow
def test_two_processes_work_on_one_study(runs_dir):
    needs("optuna", "optuna")
    args = ("cartpole-ppo", "--trials", "6", *TINY_SEARCH, "--param", "algorithm.gamma=choice(0.98,0.99,0.999)",
            "--study", "shared")
    first = search(*args, "--workers", "2", runs_dir=runs_dir, popen=True)  # itself and one helper
    processes = [first]
    try:
        wait_until(lambda: trials_so_far(runs_dir, "shared"), what="the first trial")
        # Hold the first worker on its first trial, so tiny trials cannot all be done before the
        # others have started (the helper it spawned, and another terminal joining by name alone).
        os.kill(first.pid, signal.SIGSTOP)
        try:
            processes.append(search("--study", "shared", "--trials", "6", runs_dir=runs_dir, popen=True))
            wait_until(
                lambda: len({t.user_attrs.get("worker") for t in trials_so_far(runs_dir, "shared")}) >= 2,
                what="a trial taken by another worker",
            )
        finally:
            os.kill(first.pid, signal.SIGCONT)
        outputs = [p.communicate(timeout=300)[0] for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0, 0], outputs
    trials = study(runs_dir, "shared").get_trials()
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) >= 2, outputs  # three took part; a late one may find the budget spent
    # each worker counts the study's trials before asking for one: two asking at once make one more
    assert 6 <= sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) <= 8
    assert all(t.params["algorithm.gamma"] in (0.98, 0.99, 0.999) for t in trials)
    names = {run for t in trials for run in t.user_attrs["runs"]}
    assert {p.name for p in runs_dir.iterdir() if p.is_dir()} == names
