"""Building envs from run configs: the seed tutorial's check, vector envs, specs and errors."""

import pytest
import torch

from tui_rl.config import validate
from tui_rl.engine.envs.making import EnvError, action_kind, describe_specs, make_env, preview_rollout
from tui_rl.engine.envs.gym_registry import registered_env_groups


def config(**sections):
    return validate(sections)


def test_step_counter_preview_on_pendulum_counts_one_to_ten():
    # The seed tutorial: GymEnv("Pendulum-v1") + StepCounter(max_steps=10), a rollout of up to 100 steps.
    cfg = config(
        env={"id": "Pendulum-v1"},
        transforms=[{"name": "StepCounter", "params": {"max_steps": 10}}],
    )
    rollout = preview_rollout(cfg, max_steps=100)
    assert rollout["next", "step_count"].squeeze(-1).tolist() == list(range(1, 11))
    assert rollout["next", "truncated"][-1].item()


def test_bookkeeping_transforms_sum_the_raw_episode_return():
    # A reward scaling in the user's stack must not change the episode return the loop reports.
    cfg = config(
        env={"id": "CartPole-v1"},
        transforms=[{"name": "RewardScaling", "params": {"scale": 0.1}}],
    )
    rollout = preview_rollout(cfg, max_steps=500)
    assert torch.allclose(rollout["next", "reward"], torch.full_like(rollout["next", "reward"], 0.1))
    steps = rollout.shape[0]
    assert rollout["next", "episode_reward"][-1].item() == pytest.approx(steps)
    assert rollout["next", "step_count"][-1].item() == steps


def test_vector_env_batches_copies_and_resets_each_one_separately():
    env = make_env(config(env={"id": "CartPole-v1", "num_envs": 4}))
    assert env.batch_size == torch.Size([4])
    rollout = env.rollout(60, break_when_any_done=False)
    done = rollout["next", "done"]
    assert done.any(), "random CartPole episodes end well within 60 steps"
    # Where a copy finished, its next step starts a fresh episode with a step count of 1.
    env_index, time_index, _ = done[:, :-1].nonzero(as_tuple=True)
    assert (rollout["next", "step_count"][env_index, time_index + 1] == 1).all()
    env.close()


def test_same_seed_gives_the_same_first_observation():
    cfg = config(env={"id": "Acrobot-v1", "seed": 7})
    first = [make_env(cfg).reset()["observation"] for _ in range(2)]
    other = make_env(config(env={"id": "Acrobot-v1", "seed": 8})).reset()["observation"]
    assert torch.equal(first[0], first[1])
    assert not torch.equal(first[0], other)


def test_action_kind_and_specs_are_readable():
    cartpole = make_env(config(env={"id": "CartPole-v1"}))
    pendulum = make_env(config(env={"id": "Pendulum-v1"}))
    assert action_kind(cartpole) == "discrete"
    assert action_kind(pendulum) == "continuous"
    assert describe_specs(cartpole)["action"] == "discrete: 2 actions"
    # the episode bookkeeping is listed apart, not as something the policy observes
    assert describe_specs(cartpole)["observation"] == "observation: float32 [4]"
    assert describe_specs(cartpole)["bookkeeping"] == "episode_reward, step_count"
    pendulum_specs = describe_specs(pendulum)
    assert pendulum_specs["action"] == "continuous [1] in [-2, 2]"
    assert "observation: float32 [3]" in pendulum_specs["observation"]
    assert "terminated" in pendulum_specs["done"]


def test_max_episode_steps_truncates_episodes():
    cfg = config(env={"id": "Pendulum-v1", "max_episode_steps": 25})
    rollout = preview_rollout(cfg, max_steps=100)
    assert rollout.shape[0] == 25


def test_render_mode_gives_frames():
    env = make_env(config(env={"id": "CartPole-v1"}), render=True)
    env.reset()
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[-1] == 3
    env.close()


@pytest.mark.parametrize(
    "env_section, path, expected",
    [
        ({"id": "NoSuchEnv-v0"}, "env.id", "cannot make 'NoSuchEnv-v0'"),
        ({"id": "NoSuchEnv-v0", "kwargs": {"g": 1.0}}, "env.id", "cannot make 'NoSuchEnv-v0'"),
        ({"id": "Pendulum-v1", "kwargs": {"g": 9.0, "bogus": 1}}, "env.kwargs.bogus",
         "Pendulum-v1 does not take bogus=1"),
    ],
)
def test_bad_env_is_an_env_error_naming_the_field_at_fault(env_section, path, expected):
    with pytest.raises(EnvError) as error:
        make_env(config(env=env_section))
    assert [e.path for e in error.value.errors] == [path]
    assert str(error.value).startswith(f"{path}: {expected}")


def test_registry_groups_the_usable_gymnasium_envs():
    groups = {group.name: group.ids for group in registered_env_groups()}
    assert "CartPole-v1" in groups["classic_control"]
    assert "Pendulum-v1" in groups["classic_control"]
    assert "LunarLander-v3" in groups["box2d"]
    assert "Blackjack-v1" in groups["toy_text"]
    every_id = [env_id for ids in groups.values() for env_id in ids]
    # Stubs that only raise (mujoco-py era ids) are not offered.
    assert "HalfCheetah-v2" not in every_id
