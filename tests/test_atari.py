"""Atari through ale-py with the standard preprocessing, each step a TorchRL transform."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torchrl.envs import SerialEnv

from conftest import needs, of_type, train_run
from tui_rl.config import apply_overrides, validate
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs.families import FAMILIES
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.protocol import Evaluated, StatusChanged
from tui_rl.engine.runs.record import create_run

STANDARD_STACK = ["RenameTransform", "NoopResetEnv", "FrameSkipTransform", "EndOfLifeTransform", "RewardSum",
                  "StepCounter", "RewardClipping", "ToTensorImage", "GrayScale", "Resize", "CatFrames"]
#: what acts on one copy of the env: with several copies each gets its own
PER_COPY = STANDARD_STACK[:4]


def atari_config(env_id: str = "ALE/Breakout-v5", algorithm: str = "dqn", **env):
    """The standard Atari config on the Gymnasium path (auto would take EnvPool where it is installed)."""
    family = FAMILIES["atari"]
    return validate({
        "env": {"id": env_id, "kwargs": family.kwargs, "backend": "gymnasium", **env}, "transforms": list(family.transforms),
        "network": {"encoder": "convnet"}, "algorithm": {"name": algorithm},
    })


def test_standard_stack_gives_uint8_stacks_of_four_grey_84x84_frames():
    needs("ale_py", "atari")
    env = make_env(atari_config("ALE/Pong-v5"))
    # every step of the preprocessing is a TorchRL transform in the env's stack, the bookkeeping
    # (episode return, step count) right after what acts on the raw env
    assert [type(t).__name__ for t in env.transform] == STANDARD_STACK
    spec = env.observation_spec["observation"]
    assert spec.shape == torch.Size([4, 84, 84]) and spec.dtype == torch.uint8
    assert "pixels" not in env.observation_spec.keys()
    rollout = env.rollout(12, break_when_any_done=False)
    frames = rollout["next", "observation"]
    assert frames.dtype == torch.uint8 and frames.shape == (12, 4, 84, 84)
    assert frames.float().std() > 10, "a Pong screen, not a blank"
    # the stack moves by one frame a step, the newest last
    assert torch.equal(frames[6, :3], frames[5, 1:])
    assert torch.equal(rollout["observation"][6], frames[5])
    env.close()


def test_several_copies_each_get_their_own_no_op_resets_and_lives():
    needs("ale_py", "atari")
    env = make_env(atari_config(num_envs=2))
    assert isinstance(env.base_env, SerialEnv) and env.batch_size == (2,)
    assert [type(t).__name__ for t in env.transform] == STANDARD_STACK[len(PER_COPY):]
    env.set_seed(0)
    rollout = env.rollout(400, break_when_any_done=False)
    assert rollout["next", "observation"].shape == (2, 400, 4, 84, 84)
    lives = rollout["next", "lives"]
    lost = rollout["next", "end-of-life"].squeeze(-1)
    # a copy's flag rises exactly when that copy's lives drop (or it ends), never for the other
    dropped = torch.zeros_like(lost)
    dropped[:, 1:] = lives[:, 1:] < lives[:, :-1]
    assert dropped.any(), "400 random Breakout steps lose a life"
    assert torch.equal(lost & ~rollout["next", "done"].squeeze(-1), dropped & ~rollout["next", "done"].squeeze(-1))
    assert not torch.equal(lost[0], lost[1])
    env.close()


@pytest.mark.parametrize("algorithm", ["dqn", "ppo"])
def test_a_lost_life_is_a_done_for_the_loss(algorithm):
    needs("ale_py", "atari")
    config = atari_config(algorithm=algorithm)
    env = make_env(config)
    agent = build_algorithm(config, env)
    assert agent.loss_module.tensor_keys.done == "end-of-life"
    assert agent.value_estimator.tensor_keys.terminated == "end-of-life"
    # the value target does not bootstrap past a lost life, although the game goes on
    step = env.rollout(3, break_when_any_done=False)[-1:]
    step["next", "done"].zero_()
    step["next", "terminated"].zero_()
    step["next", "end-of-life"].fill_(True)
    step["next", "reward"].fill_(0.5)
    estimator = agent.value_estimator
    if algorithm == "ppo":
        estimator(step)
        target = step["value_target"]
    else:
        target = estimator.value_estimate(step)
    torch.testing.assert_close(target, torch.full_like(target, 0.5))
    env.close()


@pytest.mark.slow
def test_a_run_on_several_copies_evaluates_with_its_frame_stacks_and_resumes(tmp_path):
    needs("ale_py", "atari")
    config = atari_config(algorithm="ppo", num_envs=2)
    config = apply_overrides(config, [
        "collector.frames_per_batch=64", "collector.total_frames=128", "algorithm.minibatch_size=32",
        "algorithm.epochs=1", "eval.episodes=1", "eval.every_frames=64", "checkpoint.every_frames=64",
        "env.max_episode_steps=200",
    ])
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, events = train_run(config, run_dir)
    assert trainer.counters.frames == 128, [e for e in events if isinstance(e, StatusChanged)][-1]
    assert len(of_type(events, Evaluated)) >= 2  # the evaluation env takes the training env's state
    resumed = apply_overrides(config, ["collector.total_frames=192"])
    trainer, events = train_run(resumed, run_dir, from_checkpoint=True)
    assert trainer.counters.frames == 192 and of_type(events, StatusChanged)[-1].state == "finished"


@pytest.mark.slow
def test_a_headless_atari_run_ends_quietly(tmp_path):
    # the emulators must be freed before the interpreter ends, or ale-py's bindings print
    # "nanobind: leaked 2 instances of ALEInterface" on the user's terminal after the summary
    needs("ale_py", "atari")
    done = subprocess.run(
        [sys.executable, "-m", "tui_rl.cli", "train", "breakout-dqn", "--frames", "256", "--runs-dir", str(tmp_path),
         "--set", "replay_buffer.size=1024", "--set", "env.max_episode_steps=200", "--set", "eval.episodes=1"],
        capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr
