"""Atari through ale-py with the standard preprocessing, each step a TorchRL transform."""

from __future__ import annotations

import torch

from conftest import needs
from tui_rl.config import validate
from tui_rl.engine.env_families import FAMILIES
from tui_rl.engine.envs import make_env

STANDARD_STACK = ["RenameTransform", "NoopResetEnv", "FrameSkipTransform", "RewardSum", "StepCounter",
                  "EndOfLifeTransform", "RewardClipping", "ToTensorImage", "GrayScale", "Resize", "CatFrames"]


def atari_config(env_id: str = "ALE/Breakout-v5", **env):
    family = FAMILIES["atari"]
    return validate({"env": {"id": env_id, "kwargs": family.kwargs, **env}, "transforms": list(family.transforms)})


def test_standard_stack_gives_uint8_stacks_of_four_grey_84x84_frames():
    needs("ale_py", "atari")
    env = make_env(atari_config("ALE/Pong-v5"))
    # every step of the preprocessing is a TorchRL transform in the env's stack, the bookkeeping
    # (episode return, step count) right after the frame skip
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
