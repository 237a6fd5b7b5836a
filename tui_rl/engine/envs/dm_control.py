"""The DeepMind Control Suite's tasks as envs: ``dm_control/<domain>-<task>`` ids, made with
TorchRL's DMControlWrapper from the task's state vectors or (env kwarg ``from_pixels``) from its
camera's pixels."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from torchrl.envs import EnvBase, SerialEnv
from torchrl.envs.libs.dm_control import DMControlWrapper

from tui_rl.config.errors import ConfigError
from tui_rl.config.models import EnvConfig, RunConfig
from tui_rl.engine.envs.families import (
    DM_CONTROL_PIXEL_TRANSFORMS,
    DM_CONTROL_PREFIX,
    dm_control_suite,
    require_family,
)

#: the side of the square camera image a pixel env observes (DrQ's and CURL's 84 x 84)
PIXELS_SIDE = 84
#: the size of the frames the inspector and videos draw (dm_control's own default)
FRAME_HEIGHT, FRAME_WIDTH = 240, 320


def is_dm_control(env_id: str) -> bool:
    return env_id.startswith(DM_CONTROL_PREFIX)


class DMControlTask(DMControlWrapper):
    """TorchRL's wrapper of one task, which also draws frames for the inspector and videos as a
    Gymnasium env does (``metadata`` and ``render``, read through ``gym_renderer``)."""

    @property
    def gym_renderer(self) -> DMControlTask:
        return self

    @property
    def metadata(self) -> dict[str, Any]:
        return {"render_modes": ["rgb_array"], "render_fps": round(1 / self._env.control_timestep())}

    def render(self) -> np.ndarray:
        return self._env.physics.render(FRAME_HEIGHT, FRAME_WIDTH, camera_id=0)


def make_dm_control_env(config: RunConfig, num_envs: int, device: str | torch.device) -> EnvBase:
    """``config.env``'s task wrapped by TorchRL (``num_envs`` copies stepped in turn, as
    Gymnasium's sync vector env steps them). Raises ConfigError naming the field at fault."""
    missing = require_family(config.env.id)
    if missing is not None:
        raise ConfigError.at("env.id", f"cannot make {config.env.id!r}: {missing}")
    if num_envs == 1:
        return make_task(config, device)
    return SerialEnv(num_envs, partial(make_task, config, device))


def make_task(config: RunConfig, device: str | torch.device) -> DMControlTask:
    env_cfg = config.env
    kwargs = dict(env_cfg.kwargs)
    from_pixels = bool(kwargs.pop("from_pixels", False))
    if from_pixels and not reads_pixels(config):
        names = ", ".join(t["name"] for t in DM_CONTROL_PIXEL_TRANSFORMS)
        raise ConfigError.at("transforms", f"{env_cfg.id} with from_pixels gives its camera image as `pixels`, "
                                           f"which no transform makes the observation: use the pixel stack ({names})")
    suite = dm_control_suite()
    task = suite_task(env_cfg, suite)
    try:
        env = suite.load(*task, task_kwargs=kwargs)
    except TypeError as exc:  # a task kwarg the task does not take
        raise ConfigError.at("env.kwargs", f"{env_cfg.id} does not take {', '.join(kwargs)}: {exc}") from None
    if env_cfg.max_episode_steps is not None:
        # the suite limits episodes in seconds; half a step short, so a float rounding adds none
        limit = (env_cfg.max_episode_steps - 0.5) * env.control_timestep()
        env = suite.load(*task, task_kwargs={**kwargs, "time_limit": limit})
    if not from_pixels:
        return DMControlTask(env, device=device)
    try:
        return DMControlTask(env, device=device, from_pixels=True, pixels_only=True,
                             render_kwargs={"height": PIXELS_SIDE, "width": PIXELS_SIDE})
    except Exception as exc:  # the GL backends fail in many ways: a missing library, no display
        raise ConfigError.at("env.kwargs.from_pixels", f"{env_cfg.id} cannot render pixels here: {exc!r} "
                                                       "(dm_control renders through OpenGL: MUJOCO_GL=egl needs "
                                                       "libEGL, osmesa needs libOSMesa); its states need no GL") from None


def suite_task(env_cfg: EnvConfig, suite: Any) -> tuple[str, str]:
    """The (domain, task) pair ``env_cfg.id`` names; the domain's tasks when the suite has no such task."""
    domain, _, task = env_cfg.id.removeprefix(DM_CONTROL_PREFIX).partition("-")
    tasks = [t for d, t in suite.ALL_TASKS if d == domain]
    if task not in tasks:
        known = ", ".join(tasks) if tasks else ", ".join(sorted({d for d, _ in suite.ALL_TASKS}))
        raise ConfigError.at("env.id", f"{env_cfg.id!r} is no task of the DeepMind Control Suite "
                                       f"(dm_control/<domain>-<task>; {'its tasks' if tasks else 'domains'}: {known})")
    return domain, task


def reads_pixels(config: RunConfig) -> bool:
    """Whether a transform of the stack reads the ``pixels`` a pixel env gives."""
    return any("pixels" in t.params.get("in_keys", ()) for t in config.transforms)
