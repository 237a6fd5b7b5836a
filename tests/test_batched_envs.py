"""The torch backend: tui-rl's batched classic-control envs step like Gymnasium's, reset finished
copies alone, render frames, and are picked (or refused, naming the field) by ``env.backend``."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch
from conftest import needs
from tensordict import TensorDict
from torchrl.collectors import Collector
from torchrl.envs import GymWrapper

from tui_rl.config import ConfigError, apply_overrides, load_preset, validate
from tui_rl.engine.envs.batched import BATCHED_ENVS, BatchedClassicEnv
from tui_rl.engine.envs.making import EPISODE_REWARD_KEY, make_env
from tui_rl.engine.envs.frames import PIXELS_KEY, make_render_env
from tui_rl.engine.policy.playback import play_episode
from tui_rl.engine.run.preflight import check_buildable

TRANSITIONS = 10_000
#: states the comparison starts from, per state entry: wider than the envs reach by themselves
#: where that exercises the edges (CartPole's bounds, the mountain car's walls, Acrobot's wrap)
STATE_RANGES = {
    "CartPole-v1": [(-2.6, 2.6), (-3.0, 3.0), (-0.25, 0.25), (-3.0, 3.0)],
    "Acrobot-v1": [(-math.pi, math.pi), (-math.pi, math.pi), (-4 * math.pi, 4 * math.pi), (-9 * math.pi, 9 * math.pi)],
    "MountainCar-v0": [(-1.25, 0.6), (-0.07, 0.07)],
    "MountainCarContinuous-v0": [(-1.25, 0.6), (-0.07, 0.07)],
    "Pendulum-v1": [(-2 * math.pi, 2 * math.pi), (-8.0, 8.0)],
}
LIMITS = {"CartPole-v1": 500, "Acrobot-v1": 500, "MountainCar-v0": 200, "MountainCarContinuous-v0": 999, "Pendulum-v1": 200}


def time_limit_of(env: gymnasium.Env) -> gymnasium.wrappers.TimeLimit:
    while not isinstance(env, gymnasium.wrappers.TimeLimit):
        env = env.env
    return env


def random_transitions(env: BatchedClassicEnv, generator: torch.Generator):
    """Start states, elapsed steps (half of them one step from the limit) and actions (continuous
    ones beyond their bounds too, to exercise clipping)."""
    low, high = torch.tensor(STATE_RANGES[env.gym_id], dtype=torch.float64).T
    states = low + torch.rand(TRANSITIONS, low.numel(), generator=generator, dtype=torch.float64) * (high - low)
    if env.gym_id.startswith("MountainCar"):  # some cars against the left wall, rolling into it
        states[::7, 0] = -1.2
    elapsed = torch.randint(0, env.limit, (TRANSITIONS, 1), generator=generator)
    elapsed[::2] = env.limit - 1
    if env.num_actions is not None:
        actions = torch.randint(0, env.num_actions, (TRANSITIONS,), generator=generator)
    else:
        actions = (torch.rand(TRANSITIONS, 1, generator=generator) * 3 - 1.5) * env.action_bound
    return states, elapsed, actions


@pytest.mark.parametrize("env_id", list(BATCHED_ENVS))
def test_the_same_transitions_as_gymnasium(env_id):
    env = BATCHED_ENVS[env_id](TRANSITIONS)
    states, elapsed, actions = random_transitions(env, torch.Generator().manual_seed(0))
    env.copies.state, env.copies.elapsed = states.clone(), elapsed.clone()
    ours = env.step(TensorDict(action=actions, batch_size=[TRANSITIONS]))["next"]

    reference = gymnasium.make(env_id)
    reference.reset(seed=0)
    time_limit, unwrapped = time_limit_of(reference), reference.unwrapped
    theirs = {key: [] for key in ("observation", "reward", "terminated", "truncated")}
    for state, steps, action in zip(states.numpy(), elapsed[:, 0].tolist(), actions.numpy()):
        unwrapped.state = state.copy()
        unwrapped.steps_beyond_terminated = None  # CartPole's own count of steps after a fall
        time_limit._elapsed_steps = steps
        observation, reward, terminated, truncated, _ = reference.step(int(action) if action.ndim == 0 else action)
        for key, value in zip(theirs, (observation, reward, terminated, truncated)):
            theirs[key].append(value)
    reference.close()

    torch.testing.assert_close(ours["observation"], torch.tensor(np.stack(theirs["observation"])), atol=1e-5, rtol=0)
    torch.testing.assert_close(ours["reward"][:, 0], torch.tensor(theirs["reward"], dtype=torch.float32), atol=1e-5, rtol=0)
    for key in ("terminated", "truncated"):
        assert ours[key][:, 0].tolist() == theirs[key], f"{key} differs"
    assert ours["done"].equal(ours["terminated"] | ours["truncated"])
    assert ours["truncated"].any() and (env_id == "Pendulum-v1" or ours["terminated"].any())


@pytest.mark.parametrize("env_id", list(BATCHED_ENVS))
def test_episode_limits_and_specs_are_gymnasiums(env_id):
    env = BATCHED_ENVS[env_id]()
    reference = gymnasium.make(env_id)
    assert env.max_episode_steps == reference.spec.max_episode_steps == LIMITS[env_id]
    wrapped = GymWrapper(reference, categorical_action_encoding=True)
    assert env.observation_spec["observation"] == wrapped.observation_spec["observation"].to(env.device)
    assert env.action_spec.shape == wrapped.action_spec.shape
    assert env.action_spec.space == wrapped.action_spec.space
    env.set_seed(1)
    rollout = env.rollout(2 * LIMITS[env_id], break_when_any_done=True)
    # random actions end no episode early in these two: their time limit does
    if env_id in ("Pendulum-v1", "MountainCarContinuous-v0"):
        assert rollout.shape == (LIMITS[env_id],) and bool(rollout["next", "truncated"][-1])
    wrapped.close()


def test_finished_copies_reset_alone():
    env = BATCHED_ENVS["Pendulum-v1"](4)
    env.set_seed(0)
    data = env.reset()
    for _ in range(3):
        data = env.rand_step(data)
    before, elapsed = env.copies.state.clone(), env.copies.elapsed.clone()
    assert elapsed[:, 0].tolist() == [3, 3, 3, 3]
    env.reset(TensorDict(_reset=torch.tensor([[False], [True], [False], [False]]), batch_size=[4]))
    assert env.copies.elapsed[:, 0].tolist() == [3, 0, 3, 3]
    assert env.copies.state[[0, 2, 3]].equal(before[[0, 2, 3]])
    assert not env.copies.state[1].equal(before[1])


def test_seeded_envs_repeat_themselves():
    first, second = BATCHED_ENVS["Acrobot-v1"](8), BATCHED_ENVS["Acrobot-v1"](8)
    first.set_seed(3), second.set_seed(3)
    assert first.reset()["observation"].equal(second.reset()["observation"])


@pytest.mark.parametrize("env_id", list(BATCHED_ENVS))
def test_each_renders_an_rgb_frame_for_the_inspector(env_id):
    env = make_render_env(validate({"env": {"id": env_id, "backend": "torch"}}))
    try:
        assert isinstance(env.base_env, BatchedClassicEnv)
        frames = env.rollout(3)[PIXELS_KEY]
        assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == torch.uint8
        before = env.render()
        env.base_env.copies.state = torch.tensor([high for _, high in STATE_RANGES[env_id]], dtype=torch.float64)
        assert not np.array_equal(before, env.render()), "the frames do not follow the state"
    finally:
        env.close()


def test_auto_picks_torch_where_it_exists_and_gymnasium_elsewhere():
    torch_env = make_env(validate({"env": {"id": "CartPole-v1", "num_envs": 4}}))
    gym_env = make_env(validate({"env": {"id": "CartPole-v1", "backend": "gymnasium"}}))
    # a kwarg only Gymnasium takes: auto hands the env to Gymnasium rather than drop the kwarg
    kwarg_env = make_env(validate({"env": {"id": "Acrobot-v1", "kwargs": {"render_mode": "rgb_array"}}}))
    try:
        assert isinstance(torch_env.base_env, BatchedClassicEnv) and torch_env.batch_size == (4,)
        assert isinstance(gym_env.base_env, GymWrapper)
        assert isinstance(kwarg_env.base_env, GymWrapper)
    finally:
        for env in (torch_env, gym_env, kwarg_env):
            env.close()


def test_auto_gives_an_env_without_a_torch_version_to_gymnasium():
    needs("Box2D", "box2d")
    env = make_env(validate({"env": {"id": "LunarLander-v3"}}))
    try:
        assert isinstance(env.base_env, GymWrapper)
    finally:
        env.close()


@pytest.mark.parametrize(
    "env_section, path, words",
    [
        ({"id": "LunarLander-v3", "backend": "torch"}, "env.backend",
         "LunarLander-v3 has no torch version; the envs that have one: CartPole-v1, Acrobot-v1"),
        ({"id": "Pendulum-v1", "backend": "torch", "kwargs": {"g": 9.0, "max_torque": 3.0}}, "env.kwargs.max_torque",
         "the torch version of Pendulum-v1 does not take max_torque (it takes: g)"),
        ({"id": "Acrobot-v1", "num_envs": 1024, "backend": "gymnasium"}, "env.num_envs",
         "the gymnasium backend steps at most 256 copies (1024 asked)"),
    ],
)
def test_a_backend_that_cannot_serve_is_refused_before_the_run_naming_the_field(env_section, path, words):
    with pytest.raises(ConfigError) as error:
        # batches big enough for every copy, so only the backend can refuse
        check_buildable(validate({"env": env_section, "collector": {"frames_per_batch": 4096}}))
    assert [e.path for e in error.value.errors] == [path]
    assert words in str(error.value)


def test_supported_kwargs_and_time_limits_reach_the_torch_env():
    env = make_env(validate({"env": {"id": "Pendulum-v1", "kwargs": {"g": 2.0}, "max_episode_steps": 30}}))
    try:
        assert env.base_env.settings["g"] == 2.0
        assert env.rollout(100).shape == (30,)
    finally:
        env.close()


@pytest.mark.parametrize("preset", ["cartpole-dqn", "cartpole-ppo", "pendulum-sac"])
def test_presets_collect_and_evaluate_through_their_transforms_on_the_torch_backend(preset):
    from tui_rl.engine.algorithms import build_algorithm

    config = apply_overrides(load_preset(preset), ["env.num_envs=64", "env.backend=torch"])
    env = make_env(config)
    eval_env = make_env(config, num_envs=1)
    collector = None
    try:
        assert isinstance(env.base_env, BatchedClassicEnv)
        algorithm = build_algorithm(config, env, "cpu")
        collector = Collector(env, algorithm.collector_policy, frames_per_batch=64 * 40, total_frames=-1,
                              auto_register_policy_transforms=False)
        batch = next(iter(collector))
        assert batch.shape == (64, 40)
        done = batch["next", "done"][..., 0]
        steps, returns = batch["next", "step_count"][..., 0], batch["next", EPISODE_REWARD_KEY][..., 0]
        if preset.startswith("cartpole"):  # CartPole's return is its length: the bookkeeping agrees
            assert done.any() and returns[done].equal(steps[done].float())
        episode = play_episode(eval_env, algorithm.eval_policy, deterministic=True)
        assert episode.ndim == 1 and bool(episode["next", "done"][-1])
    finally:
        if collector is not None:
            collector.shutdown()
        env.close()
        eval_env.close()


def test_a_users_transform_stack_works_on_top():
    # the seed tutorial's stack on the torch Pendulum: StepCounter ends episodes, then rewards scaled
    config = validate({
        "env": {"id": "Pendulum-v1", "backend": "torch", "num_envs": 3},
        "transforms": [{"name": "StepCounter", "params": {"max_steps": 10}},
                       {"name": "RewardScaling", "params": {"loc": 0.0, "scale": 0.5}}],
    })
    env = make_env(config)
    try:
        rollout = env.rollout(100, break_when_any_done=True)
        assert rollout.shape == (3, 10) and rollout["next", "truncated"][:, -1].all()
        assert torch.allclose(rollout["next", "reward"].sum(1)[:, 0] * 2, rollout["next", EPISODE_REWARD_KEY][:, -1, 0])
    finally:
        env.close()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run `make test-gpu` where one is)")
@pytest.mark.parametrize("env_id", list(BATCHED_ENVS))
def test_copies_step_on_a_gpu_made_there_or_moved_there(env_id):
    made = BATCHED_ENVS[env_id](64, device="cuda")
    moved = BATCHED_ENVS[env_id](64).to("cuda")
    for env in (made, moved):
        env.set_seed(0)
        rollout = env.rollout(600, break_when_any_done=False)  # past every limit: partial resets
        assert rollout["next", "observation"].device.type == "cuda"
        assert env.copies.state.device.type == "cuda" and rollout["next", "done"].any()
    # from the same states with the same actions, the GPU's step is the CPU's
    cpu = BATCHED_ENVS[env_id](64)
    cpu_start, gpu_start = cpu.reset(), made.reset()
    made.copies.state = cpu.copies.state.to("cuda")
    actions = cpu.full_action_spec.rand()
    cpu_step = cpu.step(cpu_start.update(actions))
    gpu_step = made.step(gpu_start.update(actions.to("cuda")))
    for key in (("next", "observation"), ("next", "reward"), ("next", "terminated")):
        torch.testing.assert_close(gpu_step[key].cpu(), cpu_step[key], atol=1e-5, rtol=0)
