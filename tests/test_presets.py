"""Every shipped preset loads, validates, and builds its env and algorithm."""

import math
import warnings

import pytest
import torch
from torchrl.collectors import Collector

from tui_rl.config import DEFAULT_PRESET, edit, list_presets, load_preset
from tui_rl.config import ALGORITHMS
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs.making import action_kind, make_env
from tui_rl.engine.envs.multi_agent import group_action_kinds, is_multi_agent_env

torch.set_num_threads(1)

#: each env's solved threshold, as the issues state it; for the image envs, what the published
#: budgets reach (the MinAtar paper's DQN on Breakout; RL Zoo's Atari benchmark); for HalfCheetah, a
#: return a CPU budget reaches (RL Zoo's SAC, 1M steps: ~9500)
TARGETS = {
    "CartPole-v1": 475, "Acrobot-v1": -100, "MountainCar-v0": -110, "Pendulum-v1": -200,
    "LunarLander-v3": 200, "InvertedPendulum-v5": 950, "HalfCheetah-v5": 1500,
    "MinAtar/Breakout-v1": 10, "ALE/Pong-v5": 18, "ALE/Breakout-v5": 200,
    # multi-agent envs have no published solved threshold: their presets set no target
    "vmas/navigation": None, "mpe/simple_spread": None, "mpe/simple_tag": None,
}
REQUIRED = {
    "cartpole-dqn", "cartpole-ppo", "acrobot-dqn", "mountaincar-dqn", "pendulum-ddpg", "pendulum-sac",
    "pendulum-td3", "lunarlander-ppo", "invertedpendulum-sac", "minatar-breakout-dqn",
    "cartpole-masked-lstm", "pong-ppo", "breakout-dqn", "halfcheetah-sac",
    "vmas-navigation-mappo", "mpe-spread-mappo", "mpe-spread-qmix", "mpe-tag-mappo",
}

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
    kinds = group_action_kinds(env).values() if is_multi_agent_env(env) else [action_kind(env)]
    assert set(kinds) <= set(ALGORITHMS[config.algorithm.name].action_kinds)
    # One step of the collector policy gives an action the env accepts (each group's, multi-agent).
    with torch.no_grad():
        step = env.rollout(2, algorithm.collector_policy, break_when_any_done=False)
    first = step[:, 0] if step.ndim > 1 else step[0]
    assert all(env.full_action_spec[key].is_in(first[key]) for key in env.action_keys)
    env.close()


@pytest.mark.parametrize("name", PRESETS)
def test_preset_collects_and_replays_without_a_torchrl_warning(name):
    """TorchRL warns when ``init_random_frames`` is not whole batches, and when a draw's size is
    not the buffer's own: a run of a preset prints neither."""
    from tui_rl.engine.run import collectors
    from tui_rl.engine.algorithms.replay import replay_minibatches

    config = edit(load_preset(name), {"replay_buffer.size": 1000})
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        collector = collectors.build(config, env, algorithm.collector_policy, torch.device("cpu"))
        try:
            batch = next(iter(collector))
        finally:
            collector.shutdown()
        buffer = algorithm.replay_buffer
        if buffer is not None:
            buffer.extend(batch.reshape(-1))
            assert len(list(replay_minibatches(buffer, config.replay_buffer, 2))) == 2


@pytest.mark.parametrize("name", PRESETS)
def test_preset_passes_the_preflight_check_that_train_and_validate_run(name):
    from tui_rl.engine.run.preflight import check_buildable

    assert check_buildable(load_preset(name)) is None


def shrunk(name: str):
    """The preset at a few hundred frames: two batches, a few gradient steps each, learning at once."""
    config = load_preset(name)
    fields = type(config.algorithm).model_fields
    changes = {
        "collector.frames_per_batch": 16 * config.env.num_envs,
        "collector.init_random_frames": 0,
        "replay_buffer.size": 1000,
    }
    changes.update({path: value for path, value in (("algorithm.updates_per_batch", 2), ("algorithm.epochs", 1))
                    if path.split(".")[1] in fields})
    return edit(config, changes)


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_a_few_hundred_frames_with_finite_losses(name):
    config = shrunk(name)
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    batch_frames = config.collector.frames_per_batch
    collector = Collector(env, algorithm.collector_policy, frames_per_batch=batch_frames,
                          total_frames=2 * batch_frames, auto_register_policy_transforms=False)
    frames, logged = 0, {}
    for batch in collector:
        frames += batch.numel()
        logged = algorithm.update(batch, frames)
    collector.shutdown()
    losses = {key: value for key, value in logged.items() if key.startswith("loss_")}
    assert losses and all(math.isfinite(value) for value in losses.values()), logged
