"""Every shipped preset loads, validates, and builds its env and algorithm."""

import pytest
import torch

from tui_rl.config import DEFAULT_PRESET, list_presets, load_preset
from tui_rl.config import ALGORITHMS
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs import action_kind, make_env

torch.set_num_threads(1)

#: each env's solved threshold, as the issue states it
TARGETS = {"CartPole-v1": 475, "Acrobot-v1": -100, "MountainCar-v0": -110, "Pendulum-v1": -200}
REQUIRED = {"cartpole-dqn", "cartpole-ppo", "acrobot-dqn", "mountaincar-dqn", "pendulum-ddpg", "pendulum-sac"}

PRESETS = [info.name for info in list_presets()]


def test_the_required_presets_ship_and_the_default_is_one_of_them():
    assert REQUIRED <= set(PRESETS)
    assert DEFAULT_PRESET == "cartpole-dqn"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_describes_itself_and_aims_at_its_env_target(name):
    config = load_preset(name)
    assert config.description
    assert config.eval.target_return == TARGETS[config.env.id]
    assert config.eval.every_frames < config.collector.total_frames


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_its_env_and_algorithm(name):
    config = load_preset(name)
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    assert action_kind(env) in ALGORITHMS[config.algorithm.name].action_kinds
    # One step of the collector policy gives an action the env accepts.
    with torch.no_grad():
        step = env.rollout(2, algorithm.collector_policy, break_when_any_done=False)
    first = step[:, 0] if step.ndim > 1 else step[0]
    assert env.action_spec.is_in(first["action"])
    env.close()


@pytest.mark.parametrize("name", PRESETS)
def test_preset_passes_the_preflight_check_that_train_and_validate_run(name):
    from tui_rl.engine.preflight import check_buildable

    assert check_buildable(load_preset(name)) is None
