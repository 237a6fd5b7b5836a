"""Frames of an env: the run's env made to render into the TensorDict, shrunk to what a terminal draws."""

from __future__ import annotations

import functools
import math
import os

import numpy as np
import torch
from torchrl.data import Unbounded
from torchrl.envs import EnvBase, Transform
from torchrl.record.recorder import PixelRenderTransform

from tui_rl.config.models import RunConfig
from tui_rl.engine.compat import gym_env_of
from tui_rl.engine.envs.envpool_env import EnvPoolEnv
from tui_rl.engine.envs.families import MPE_PREFIX
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.envs.observation_image import image_layers, is_image_shape

PIXELS_KEY = "pixels"
OBSERVATION_KEY = "observation"
#: frames are stored at most this wide (area-averaged): wider than any terminal pane draws them,
#: and small enough that a long episode of frames fits in memory (CartPole: 150x100, 45 kB a step)
MAX_FRAME_WIDTH = 160


def downscale_frame(frame: np.ndarray, max_width: int = MAX_FRAME_WIDTH) -> np.ndarray:
    """``frame`` (H x W x 3, uint8) shrunk by a whole factor to at most ``max_width``, averaging
    each block of pixels so thin lines (a pole, a track) do not vanish."""
    factor = math.ceil(frame.shape[1] / max_width)
    if factor <= 1:
        return np.ascontiguousarray(frame)
    height, width = frame.shape[0] // factor * factor, frame.shape[1] // factor * factor
    # one strided view per offset in the block: a few fast adds instead of a slow axis reduction
    total = np.zeros((height // factor, width // factor, frame.shape[2]), np.uint32)
    for row in range(factor):
        for col in range(factor):
            total += frame[row:height:factor, col:width:factor]
    return ((total + factor * factor // 2) // (factor * factor)).astype(np.uint8)


def can_render(env: EnvBase) -> bool:
    if isinstance(env.base_env, EnvPoolEnv):
        return False  # EnvPool renders no frame of one copy; the observation is drawn where it is an image
    return "rgb_array" in gym_env_of(env).metadata.get("render_modes", [])


def has_image_observation(env: EnvBase) -> bool:
    spec = env.observation_spec.get(OBSERVATION_KEY, None)
    return spec is not None and is_image_shape(tuple(spec.shape[len(env.batch_size):]))


def make_render_env(config: RunConfig, max_width: int = MAX_FRAME_WIDTH, draw_observation: bool = False) -> EnvBase:
    """The run's env (one copy) that also writes its rendered frame under ``pixels``, when it can.
    With ``draw_observation``, an env whose observation is an image is not rendered: the
    observation is what is drawn (what the policy sees, and MinAtar renders through matplotlib)."""
    # pygame, which renders the classic-control envs, complains about a missing display straight
    # to file descriptor 2, which would scribble over the app's screen; rgb_array needs no display.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if config.env.id.startswith(MPE_PREFIX):  # a particle env renders as it was made to
        config = config.model_copy(deep=True)
        config.env.kwargs = {**config.env.kwargs, "render_mode": "rgb_array"}
    env = make_env(config, num_envs=1, render=True)
    if can_render(env) and not (draw_observation and has_image_observation(env)):
        preproc = functools.partial(downscale_frame, max_width=max_width)
        env.append_transform(PixelRenderTransform(out_keys=[PIXELS_KEY], preproc=preproc))
    return env


class ObservationFrame(Transform):
    """Writes under ``pixels`` what the inspector draws of an image observation (its first layer:
    object channels in colour, a frame stack's newest frame), each pixel a square block so that
    the frame is at least ``min_side`` pixels a side: a video of what the policy sees."""

    def __init__(self, min_side: int) -> None:
        super().__init__(in_keys=[OBSERVATION_KEY], out_keys=[PIXELS_KEY])
        self.min_side = min_side

    def _apply_transform(self, observation: torch.Tensor) -> torch.Tensor:
        frame = image_layers(observation.detach().cpu().numpy())[0].frame
        scale = max(1, math.ceil(self.min_side / min(frame.shape[:2])))
        return torch.from_numpy(frame.repeat(scale, axis=0).repeat(scale, axis=1))

    def _reset(self, tensordict, tensordict_reset):
        return self._call(tensordict_reset)  # the first frame of an episode is the reset's

    def transform_observation_spec(self, observation_spec):
        frame = self._apply_transform(observation_spec[OBSERVATION_KEY].zero())
        observation_spec[PIXELS_KEY] = Unbounded(shape=frame.shape, dtype=torch.uint8, device=observation_spec.device)
        return observation_spec
