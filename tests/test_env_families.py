"""Env families: each builds and steps with its extra, is refused before a run without it
(naming the extra), and is listed by the env picker's registry, or said to be missing."""

from __future__ import annotations

import sys

import pytest
import torch

from conftest import needs
from tui_rl.config import ConfigError, validate
from tui_rl.engine.envs.families import FAMILIES, env_switch_edits, family_of
from tui_rl.engine.envs.making import EnvError, describe_specs, make_env
from tui_rl.engine.envs.gym_registry import registered_env_groups
from tui_rl.engine.run.preflight import check_buildable

#: family -> (an env of it, the module its extra installs, the observation it gives)
CASES = {
    "box2d": ("LunarLander-v3", "Box2D", "observation: float32 [8]"),
    "mujoco": ("InvertedPendulum-v5", "mujoco", "observation: float32 [4]"),  # cast by its stack
    "atari": ("ALE/Pong-v5", "ale_py", "observation: uint8 [4x84x84]"),
    "minatar": ("MinAtar/Breakout-v1", "minatar", "observation: float32 [4x10x10]"),
}


def family_config(env_id: str, **sections):
    family = family_of(env_id)
    env = {"id": env_id, "kwargs": family.kwargs if family else {}}
    return validate({"env": env, "transforms": list(family.transforms if family else ()), **sections})


@pytest.mark.parametrize("name", list(CASES))
def test_each_family_builds_and_steps_with_its_standard_preprocessing(name):
    env_id, module, observation = CASES[name]
    needs(module, FAMILIES[name].extra)
    assert family_of(env_id) is FAMILIES[name]
    env = make_env(family_config(env_id))
    assert describe_specs(env)["observation"].startswith(observation)
    rollout = env.rollout(3, break_when_any_done=False)
    assert rollout["next", "step_count"].squeeze(-1).tolist() == [1, 2, 3]
    assert torch.isfinite(rollout["next", "reward"]).all()
    env.close()


def test_minatar_observations_are_its_object_channels():
    needs("minatar", "minatar")
    env = make_env(family_config("MinAtar/Breakout-v1"))
    frames = env.rollout(10, break_when_any_done=False)["next", "observation"]
    # one 10 x 10 map per object (paddle, ball, trail, brick), each cell 0 or 1; bricks fill rows
    assert set(frames.unique().tolist()) == {0.0, 1.0}
    assert frames[0, 3].sum() == 30, "three rows of ten bricks"
    assert frames[0, 0].sum() == 1, "one paddle cell"
    env.close()


@pytest.mark.parametrize("name", list(CASES))
def test_a_family_whose_package_is_missing_is_refused_before_the_run_naming_its_extra(name, monkeypatch):
    env_id, module, _ = CASES[name]
    needs(module, FAMILIES[name].extra)  # registered first, as a session that had it would
    make_env(family_config(env_id)).close()
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError from now on
    config = family_config(env_id)  # on Gymnasium: with EnvPool installed, auto makes Atari without ale-py
    config = config.model_copy(update={"env": config.env.model_copy(update={"backend": "gymnasium"})})
    with pytest.raises(ConfigError) as error:
        check_buildable(config)
    assert isinstance(error.value, EnvError)
    assert [e.path for e in error.value.errors] == ["env.id"]
    assert f"pip install 'tui-rl[{FAMILIES[name].extra}]'" in str(error.value)
    assert FAMILIES[name].title in str(error.value)


def test_the_registry_lists_installed_families_first_and_says_how_to_get_a_missing_one(monkeypatch):
    needs("ale_py", "atari")
    groups = {group.name: group for group in registered_env_groups()}
    assert list(groups)[:5] == ["classic_control", "box2d", "mujoco", "atari", "minatar"]
    assert "ALE/Pong-v5" in groups["atari"].ids and groups["atari"].missing is None
    assert "MinAtar/Breakout-v1" in groups["minatar"].ids
    assert "InvertedPendulum-v5" in groups["mujoco"].ids
    monkeypatch.setitem(sys.modules, "minatar", None)
    missing = {group.name: group for group in registered_env_groups()}["minatar"]
    assert "pip install 'tui-rl[minatar]'" in missing.missing


def test_picking_an_env_brings_its_family_preprocessing_and_keeps_a_users_own_stack():
    cartpole = validate({})
    to_atari = env_switch_edits(cartpole, "ALE/Pong-v5")
    assert [t["name"] for t in to_atari["transforms"]] == [t["name"] for t in FAMILIES["atari"].transforms]
    assert to_atari["env.kwargs"] == {"frameskip": 1}
    atari = family_config("ALE/Breakout-v5")
    # from one Atari game to another nothing changes but the id; back to CartPole, all goes
    assert env_switch_edits(atari, "ALE/Pong-v5")["transforms"] == to_atari["transforms"]
    assert env_switch_edits(atari, "CartPole-v1") == {"env.id": "CartPole-v1", "transforms": [], "env.kwargs": {}}
    own = validate({"transforms": [{"name": "RewardScaling", "params": {"scale": 0.1}}]})
    assert env_switch_edits(own, "ALE/Pong-v5") == {"env.id": "ALE/Pong-v5", "env.kwargs": {"frameskip": 1}}
