"""The checks before a run are a dry run of its first batch: an env that raises when stepped, a
step that does not match the env's own space, or an update that cannot train is refused before
anything starts (exit 2, the field named, the exception's own words kept, no run folder), by
``tui-rl train`` and ``tui-rl presets validate`` alike."""

from __future__ import annotations

import pytest
from helpers import FAULTY_ENVS

from tui_rl.cli import main
from tui_rl.config import ConfigError, apply_overrides, load_preset
from tui_rl.engine.algorithms.ppo import PPO
from tui_rl.engine.run.preflight import check_buildable


@pytest.fixture
def work(tmp_path, monkeypatch):
    (tmp_path / "faulty.py").write_text(FAULTY_ENVS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refusal(args: list[str], capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


def test_an_env_that_raises_when_stepped_is_refused_before_the_run_folder_exists(work, runs_dir, capsys):
    err = refusal(["train", "cartpole-ppo", "--set", "env.id=faulty.py:Stumbles", "--runs-dir", str(runs_dir)],
                  capsys)
    assert "env.id" in err and "ValueError: the stepper motor is unplugged" in err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_a_step_that_breaks_the_envs_own_space_is_refused_naming_the_env(work, runs_dir, capsys):
    err = refusal(["train", "cartpole-dqn", "--set", "env.id=faulty.py:Grows", "--runs-dir", str(runs_dir)], capsys)
    assert "env.id" in err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_presets_validate_runs_the_same_dry_run(work, capsys):
    preset = work / "stumbles.toml"
    preset.write_text('[env]\nid = "faulty.py:Stumbles"\n\n[algorithm]\nname = "ppo"\n')
    err = refusal(["presets", "validate", str(preset)], capsys)
    assert "the stepper motor is unplugged" in err


def test_an_update_that_cannot_train_names_the_algorithm(monkeypatch, runs_dir, capsys):
    def update(self, batch, frames):
        raise RuntimeError("mat1 and mat2 must have the same dtype")

    monkeypatch.setattr(PPO, "update", update)
    err = refusal(["train", "cartpole-ppo", "--runs-dir", str(runs_dir)], capsys)
    assert "algorithm.name: ppo cannot train on the first batch: RuntimeError: mat1 and mat2" in err


@pytest.mark.parametrize("preset", ["cartpole-ppo", "cartpole-dqn", "pendulum-sac", "cartpole-masked-lstm"])
def test_the_presets_pass_their_dry_run(preset):
    check_buildable(load_preset(preset))


def test_a_processes_run_makes_one_workers_env_as_the_worker_will(work):
    config = apply_overrides(load_preset("cartpole-ppo"), ["env.id=faulty.py:Stumbles", "collector.backend=processes",
                                                           "collector.workers=2"])
    with pytest.raises(ConfigError) as refused:
        check_buildable(config)
    assert refused.value.errors[0].path == "env.id"
    assert "stepper motor" in str(refused.value)
