"""Observations that are not one vector train as they come: a Dict of vectors is joined into one
observation (nested entries by dotted keys) and the specs say which; a Dict holding an image is read
key by key, a ConvNet for the image; the keys the networks read can be chosen, and a chosen key the
env does not give is refused before a run starts, naming the field; a Discrete state is one-hot
encoded, alone or as an entry of a Dict (then joined with the vectors, as SB3 does)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from helpers import train_briefly

from tui_rl.cli import main
from tui_rl.config import validate
from tui_rl.engine.envs.making import describe_specs, make_env
from tui_rl.engine.networks.heads import make_actor_critic
from tui_rl.engine.runs.folder import read_history


class Rover(gymnasium.Env):
    """A point rover observing where it is, and (nested) how fast it goes; its goal is the origin.
    ``extra`` adds an entry to the Dict that the join cannot take: an image or a count."""

    action_space = gymnasium.spaces.Discrete(4)

    def __init__(self, extra: str = ""):
        entries = {"pos": gymnasium.spaces.Box(-5, 5, (2,), np.float32),
                   "motion": gymnasium.spaces.Dict({"vel": gymnasium.spaces.Box(-1, 1, (2,), np.float32)})}
        if extra == "camera":
            entries["camera"] = gymnasium.spaces.Box(0, 255, (3, 12, 12), np.uint8)
        elif extra == "count":
            entries["count"] = gymnasium.spaces.Discrete(5)
        self.observation_space = gymnasium.spaces.Dict(entries)

    def observe(self):
        seen = self.observation_space.sample()
        seen["pos"], seen["motion"]["vel"] = self.pos.astype(np.float32), self.vel.astype(np.float32)
        return seen

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.vel, self.t = self.np_random.uniform(-2, 2, 2), np.zeros(2), 0
        return self.observe(), {}

    def step(self, action):
        self.vel = np.clip(0.5 * self.vel + 0.2 * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]][action]), -1, 1)
        self.pos = np.clip(self.pos + self.vel, -5, 5)
        self.t += 1
        return self.observe(), -float(np.linalg.norm(self.pos)), False, self.t >= 30, {}


gymnasium.register("TuiRlTest/Rover-v0", entry_point=Rover)


def test_the_entries_are_joined_in_key_order_and_the_specs_say_so():
    env = make_env(validate({"env": {"id": "TuiRlTest/Rover-v0"}}))
    try:
        rollout = env.rollout(3)
        specs = describe_specs(env)
    finally:
        env.close()
    joined = rollout["observation"]
    assert joined.shape == (3, 4)
    assert (joined[:, :2] == rollout["motion", "vel"]).all() and (joined[:, 2:] == rollout["pos"]).all()
    assert specs["joined"] == "observation = motion.vel, pos (concatenated)"


@pytest.mark.parametrize("algorithm, recurrent", [("ppo", "none"), ("dqn", "none"), ("a2c", "lstm")])
def test_a_dict_observation_trains(algorithm, recurrent):
    config = validate({"env": {"id": "TuiRlTest/Rover-v0", "num_envs": 2}, "algorithm": {"name": algorithm},
                       "network": {"recurrent": recurrent, "recurrent_size": 16, "hidden_sizes": [16]},
                       "collector": {"init_random_frames": 64}, "replay_buffer": {"batch_size": 32}})
    _, _, logged = train_briefly(config)
    assert logged


def test_a_dict_observation_trains_headless(runs_dir):
    code = main(["train", "cartpole-ppo", "--set", "env.id=TuiRlTest/Rover-v0", "--frames", "512",
                 "--set", "collector.frames_per_batch=128", "--set", "eval.episodes=2", "--name", "rover",
                 "--runs-dir", str(runs_dir)])
    assert code == 0 and read_history(runs_dir / "rover").summary.status == "finished"


SMALL_CONVNET = ["--set", "network.conv_channels=[4]", "--set", "network.conv_kernels=[4]",
                 "--set", "network.conv_strides=[2]"]


@pytest.mark.parametrize("extra", ["camera", "count"])
def test_a_dict_holding_an_image_or_a_count_trains(extra, runs_dir):
    code = main(["train", "cartpole-ppo", "--set", "env.id=TuiRlTest/Rover-v0", "--set", f"env.kwargs={{extra = '{extra}'}}",
                 *SMALL_CONVNET, "--frames", "256", "--set", "collector.frames_per_batch=128",
                 "--set", "eval.episodes=1", "--name", "rover", "--runs-dir", str(runs_dir)])
    assert code == 0 and read_history(runs_dir / "rover").summary.status == "finished"


def test_the_multi_input_encoder_reads_each_chosen_key():
    config = validate({"env": {"id": "TuiRlTest/Rover-v0", "kwargs": {"extra": "camera"}},
                       "network": {"observation_keys": ["camera", "motion.vel"], "conv_channels": [4],
                                   "conv_kernels": [4], "conv_strides": [2]}})
    env = make_env(config)
    try:
        actor = make_actor_critic(config, env, "cpu").actor
        encoder = actor.module[0].module[0]  # the trunk's first module
    finally:
        env.close()
    assert encoder.in_keys == ["camera", ("motion", "vel")] and encoder.out_keys == ["embedding"]


def test_a_chosen_key_the_env_does_not_give_is_refused_naming_the_field(runs_dir, capsys):
    code = main(["train", "cartpole-ppo", "--set", "env.id=TuiRlTest/Rover-v0",
                 "--set", "network.observation_keys=['pos', 'speed']", "--frames", "256", "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "network.observation_keys: TuiRlTest/Rover-v0 gives no 'speed'" in err, err
    assert not runs_dir.exists()


@pytest.mark.parametrize("env_id, states", [("FrozenLake-v1", 16), ("Taxi-v4", 500)])
def test_a_discrete_observation_is_one_hot_encoded(env_id, states):
    env = make_env(validate({"env": {"id": env_id}}))
    try:
        rollout = env.rollout(5, break_when_any_done=False)
        assert describe_specs(env)["one-hot"].startswith(f"the env gives one of {states} states")
    finally:
        env.close()
    observation = rollout["observation"]
    assert observation.shape == (5, states) and observation.dtype == torch.float32
    assert (observation.sum(-1) == 1).all()


def test_a_discrete_entry_of_a_dict_is_read_one_hot_joined_with_the_vectors():
    config = validate({"env": {"id": "TuiRlTest/Rover-v0", "kwargs": {"extra": "count"}}})
    env = make_env(config)
    try:
        rollout = env.rollout(20)
        specs = describe_specs(env)
        actor = make_actor_critic(config, env, "cpu").actor
    finally:
        env.close()
    assert specs["one-hot"] == "count: one of 5 (int64 [scalar]); the networks read each one-hot"
    assert specs["joined"] == "observation = count, motion.vel, pos (concatenated)"
    observation = rollout["observation"]
    assert observation.shape == (20, 5 + 2 + 2) and observation.dtype == torch.float32
    counts = observation[:, :5]
    assert ((counts == 0) | (counts == 1)).all() and (counts.sum(-1) == 1).all()
    assert torch.equal(counts, rollout["count"]), "the count entry is one-hot, not an integer"
    assert len(set(counts.argmax(-1).tolist())) > 1, "the counts seen differ"
    assert actor.in_keys == ["observation"]


def test_frozen_lake_trains_headless_with_the_cartpole_preset(runs_dir):
    code = main(["train", "cartpole-dqn", "--set", "env.id=FrozenLake-v1", "--frames", "512",
                 "--set", "collector.init_random_frames=128", "--set", "eval.episodes=2", "--name", "lake",
                 "--runs-dir", str(runs_dir)])
    history = read_history(runs_dir / "lake")
    assert code == 0 and history.summary.status == "finished"
    assert history.metrics["loss_qvalue"]
