"""Envs that observe float64 (MuJoCo's, many of a user's own) train as they come: the networks are
float32, so the env is cast (DoubleToFloat), shown in the MuJoCo family's stack and in the specs."""

import gymnasium
import numpy as np
import pytest
import torch

from conftest import needs
from helpers import train_briefly
from tui_rl.cli import main
from tui_rl.config import validate
from tui_rl.engine.envs.families import env_switch_edits
from tui_rl.engine.envs.making import describe_specs, make_env
from tui_rl.engine.runs.folder import read_history


class Float64Reacher(gymnasium.Env):
    """A user's own env as many are written: float64 observations and actions, no registration
    beyond gymnasium.register. The reward is the negative distance of a point to the origin."""

    observation_space = gymnasium.spaces.Box(-10, 10, (3,), np.float64)
    action_space = gymnasium.spaces.Box(-1, 1, (2,), np.float64)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.point = self.np_random.uniform(-1, 1, 2)
        self.t = 0
        return self.observe(), {}

    def observe(self):
        return np.array([*self.point, self.t / 50], dtype=np.float64)

    def step(self, action):
        assert action.dtype == np.float64  # what the user wrote the env for reaches it
        self.point = np.clip(self.point + 0.1 * action, -10, 10)
        self.t += 1
        return self.observe(), -float(np.linalg.norm(self.point)), False, self.t >= 50, {}


gymnasium.register("TuiRlTest/Float64Reacher-v0", entry_point=Float64Reacher)


def test_a_float64_env_is_cast_and_the_specs_say_so():
    env = make_env(validate({"env": {"id": "TuiRlTest/Float64Reacher-v0"}}))
    try:
        rollout = env.rollout(5)
        specs = describe_specs(env)
    finally:
        env.close()
    assert rollout["observation"].dtype == rollout["next", "reward"].dtype == torch.float32
    assert rollout["action"].dtype == torch.float32
    assert "observation: float32 [3]" in specs["observation"]
    assert specs["cast"].startswith("float64 → float32")


def test_a_float32_env_is_left_as_it_is():
    env = make_env(validate({"env": {"id": "Pendulum-v1", "backend": "gymnasium"}}))
    try:
        assert "cast" not in describe_specs(env)
    finally:
        env.close()


@pytest.mark.parametrize("algorithm, recurrent", [("ppo", "lstm"), ("sac", "none"), ("a2c", "gru")])
def test_a_users_float64_env_trains_with_each_network(algorithm, recurrent):
    config = validate({
        "env": {"id": "TuiRlTest/Float64Reacher-v0"},
        "algorithm": {"name": algorithm},
        "network": {"recurrent": recurrent, "recurrent_size": 16, "hidden_sizes": [16]},
        "collector": {"init_random_frames": 64},
        "replay_buffer": {"batch_size": 32},
    })
    algorithm_, before, logged = train_briefly(config)
    after = list(algorithm_.loss_module.parameters())
    assert logged and any(not torch.equal(b, a) for b, a in zip(before, after))


def test_switching_to_a_mujoco_env_puts_the_cast_in_the_stack():
    needs("mujoco", "mujoco")
    edits = env_switch_edits(validate({}), "Hopper-v5")
    assert edits["transforms"] == [{"name": "DoubleToFloat", "params": {}}]


@pytest.mark.parametrize("preset, env_id", [("pendulum-sac", "Hopper-v5"), ("pendulum-td3", "HalfCheetah-v5")])
def test_a_mujoco_body_trains_with_a_preset_made_for_pendulum(preset, env_id, runs_dir):
    needs("mujoco", "mujoco")
    code = main(["train", preset, "--set", f"env.id={env_id}", "--frames", "512", "--name", "body",
                 "--set", "collector.init_random_frames=128", "--set", "eval.episodes=1",
                 "--set", "env.max_episode_steps=100", "--runs-dir", str(runs_dir)])
    history = read_history(runs_dir / "body")
    assert code == 0 and history.summary.status == "finished", history.summary.reason
    losses = [name for name in history.metrics if name.startswith("loss")]
    assert losses and all(len(history.metrics[name]) for name in losses)
