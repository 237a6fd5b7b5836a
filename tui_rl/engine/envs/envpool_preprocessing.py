"""The EnvPool backend's plan for a config: the EnvPool task of ``env.id``, the settings EnvPool is
made with, and which of the config's transforms EnvPool does inside (Atari's standard
preprocessing), each described as a row of the Transforms tab.

Imports neither torch nor envpool (importing envpool takes seconds): the app reads the plan to
show what EnvPool does inside, and the coverage is read from envpool's files.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tui_rl.config.errors import ConfigError

EXTRA = "envpool"
ATARI_PREFIX = "ALE/"
#: Gymnasium ids EnvPool makes with the same dynamics (classic control and MuJoCo, same name)
SAME_NAME_IDS = frozenset({
    "CartPole-v0", "CartPole-v1", "Pendulum-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Acrobot-v1",
    *(f"{name}-v{version}" for version in (4, 5) for name in (
        "Ant", "HalfCheetah", "Hopper", "Humanoid", "HumanoidStandup", "InvertedDoublePendulum",
        "InvertedPendulum", "Pusher", "Reacher", "Swimmer", "Walker2d",
    )),
})
#: the ALE kwargs EnvPool takes under the same name; ``frameskip`` must stay 1 (the frame skip is
#: the stack's FrameSkipTransform, done by EnvPool)
ATARI_KWARGS = ("repeat_action_probability", "full_action_space", "mode", "difficulty")
#: ALE v5's sticky actions, which EnvPool (default 0) is given so that the dynamics stay the same
ALE_V5_STICKY = 0.25
#: transforms that leave the frames alone: they may stand anywhere in the stack, and stay TorchRL's
#: (EndOfLifeTransform reads the lives EnvPool reports)
FRAME_FREE = frozenset({"EndOfLifeTransform", "RewardClipping", "RewardScaling", "RewardSum", "StepCounter",
                        "InitTracker"})


def installed() -> bool:
    return importlib.util.find_spec("envpool") is not None


@cache
def atari_games() -> frozenset[str]:
    """EnvPool's Atari games as ALE names them (``Pong``, ``MontezumaRevenge``), from its ROM files."""
    spec = importlib.util.find_spec("envpool_assets")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    roms = os.path.join(next(iter(spec.submodule_search_locations)), "atari", "roms")
    if not os.path.isdir(roms):
        return frozenset()
    return frozenset(
        "".join(part.capitalize() for part in name.removesuffix(".bin").split("_"))
        for name in os.listdir(roms) if name.endswith(".bin")
    )


def envpool_task(env_id: str) -> str | None:
    """EnvPool's task id for the Gymnasium id ``env_id`` (``ALE/Pong-v5`` -> ``Pong-v5``), or None
    when EnvPool does not make it."""
    if env_id.startswith(ATARI_PREFIX) and env_id.endswith("-v5"):
        game = env_id.removeprefix(ATARI_PREFIX).removesuffix("-v5")
        return f"{game}-v5" if game in atari_games() else None
    return env_id if env_id in SAME_NAME_IDS else None


@dataclass(frozen=True)
class EnvPoolPlan:
    """How EnvPool makes a config's env."""

    task: str
    #: keyword arguments of ``envpool.make`` (besides num_envs, env_type and seed)
    settings: dict[str, Any]
    #: positions in ``config.transforms`` of the transforms EnvPool does inside
    inside: tuple[int, ...] = ()
    #: what EnvPool does inside, one line each, in the order it does them
    rows: tuple[str, ...] = field(default=())

    def rest(self, transforms: list) -> list:
        """The config's transforms that TorchRL still applies after EnvPool, in order."""
        return [t for i, t in enumerate(transforms) if i not in self.inside]


def plan(config: Any) -> EnvPoolPlan:
    """The EnvPool plan of ``config`` (a RunConfig). Raises ConfigError naming the field EnvPool
    cannot serve (``env.backend``, ``env.kwargs.<key>``, ``transforms.<name>``)."""
    env = config.env
    if not installed():
        raise ConfigError.at("env.backend", f"the envpool backend needs the envpool package: pip install 'tui-rl[{EXTRA}]'")
    task = envpool_task(env.id)
    if task is None:
        raise ConfigError.at(
            "env.backend",
            f"EnvPool does not make {env.id}; it makes Atari (ALE/<Game>-v5), classic control and MuJoCo ids. "
            "Set env.backend = 'gymnasium' or 'auto'",
        )
    if not env.id.startswith(ATARI_PREFIX):
        if env.kwargs:
            key = next(iter(env.kwargs))
            raise ConfigError.at(f"env.kwargs.{key}", f"the envpool backend takes no kwargs for {env.id}; "
                                 "set env.backend = 'gymnasium' to pass them to Gymnasium")
        settings = {} if env.max_episode_steps is None else {"max_episode_steps": env.max_episode_steps}
        return EnvPoolPlan(task, settings)
    return atari_plan(config, task)


def atari_plan(config: Any, task: str) -> EnvPoolPlan:
    """Atari: the stack's standard preprocessing becomes EnvPool's own settings."""
    env = config.env
    for key, value in env.kwargs.items():
        if key == "frameskip" and value == 1:
            continue
        if key not in ATARI_KWARGS:
            raise ConfigError.at(f"env.kwargs.{key}", f"the envpool backend does not take {key}={value!r} "
                                 f"(it takes frameskip = 1, {', '.join(ATARI_KWARGS)}); set env.backend = 'gymnasium'")
    settings: dict[str, Any] = {
        # what the Gymnasium path does, where EnvPool's defaults differ
        "repeat_action_probability": ALE_V5_STICKY, "use_fire_reset": False, "episodic_life": False,
        "reward_clip": False, "noop_max": 1, "frame_skip": 1, "stack_num": 1, "gray_scale": False,
        "img_height": 210, "img_width": 160,
        **{key: value for key, value in env.kwargs.items() if key in ATARI_KWARGS},
    }
    rows = {}
    inside = []
    for i, transform in enumerate(config.transforms):
        described = absorb(transform.name, transform.params, settings)
        if described is None:
            if transform.name not in FRAME_FREE and inside and max(inside) > i:
                raise ConfigError.at(
                    f"transforms.{transform.name}",
                    "EnvPool preprocesses Atari frames inside, before every TorchRL transform: move it after "
                    f"{config.transforms[max(inside)].name} or set env.backend = 'gymnasium'",
                )
            continue
        inside.append(i)
        rows[transform.name] = described
    names = {config.transforms[i].name for i in inside}
    for needed in ("RenameTransform", "ToTensorImage"):
        if needed not in names:
            raise ConfigError.at("env.backend", f"EnvPool gives Atari frames as uint8 [C, H, W] under observation: "
                                 f"the stack needs {needed} as Atari's standard preprocessing has it, "
                                 "or set env.backend = 'gymnasium'")
    if env.max_episode_steps is not None:
        settings["max_episode_steps"] = math.ceil(env.max_episode_steps / settings["frame_skip"])
    sticky = settings["repeat_action_probability"]
    lines = [f"EnvPool {task} in C++ threads: sticky actions {sticky:g}, no FIRE at reset"]
    order = ("NoopResetEnv", "FrameSkipTransform", "ToTensorImage", "GrayScale", "Resize", "CatFrames")
    lines += [rows[name] for name in order if name in rows]
    return EnvPoolPlan(task, settings, tuple(inside), tuple(lines))


def absorb(name: str, params: dict[str, Any], settings: dict[str, Any]) -> str | None:
    """Set in ``settings`` what EnvPool does in place of the transform; its row, or None when
    EnvPool does not do it (TorchRL applies it after). Raises ConfigError for params EnvPool cannot do."""
    def refuse(why: str) -> ConfigError:
        return ConfigError.at(f"transforms.{name}", f"EnvPool does this inside but {why}; "
                              "set env.backend = 'gymnasium' to keep TorchRL's")

    if name == "RenameTransform":
        if [params.get("in_keys"), params.get("out_keys")] != [["pixels"], ["observation"]]:
            return None
        return "rename pixels → observation"
    if name == "NoopResetEnv":
        noops = int(params.get("noops", 30))
        if params.get("random", True) is not True and noops != 1:
            raise refuse("draws the number of no-ops at random (random = true), or does exactly 1")
        settings["noop_max"] = noops
        if noops == 1:
            return "NoopResetEnv: 1 no-op at reset"
        return f"NoopResetEnv: 1-{noops} no-ops at reset (TorchRL: 0-{noops - 1})"
    if name == "FrameSkipTransform":
        settings["frame_skip"] = int(params.get("frame_skip", 1))
        return f"FrameSkipTransform: action held {settings['frame_skip']} frames, max of last 2"
    if name == "ToTensorImage":
        if params.get("dtype", "float32") != "uint8" or params.get("from_int") is not False:
            raise refuse("gives uint8 frames (dtype = uint8, from_int = false)")
        return "ToTensorImage: uint8 [C, H, W]"
    if name == "GrayScale":
        settings["gray_scale"] = True
        return "GrayScale: one grey channel"
    if name == "Resize":
        settings["img_width"], settings["img_height"] = int(params["w"]), int(params["h"])
        return f"Resize: {settings['img_height']} x {settings['img_width']} (area)"
    if name == "CatFrames":
        if params.get("dim", -3) != -3:
            raise refuse("stacks frames along the channels (dim = -3)")
        settings["stack_num"] = int(params["N"])
        return f"CatFrames: newest {settings['stack_num']} frames stacked"
    return None


def chosen_plan(config: Any) -> EnvPoolPlan | None:
    """The EnvPool plan when ``env.backend`` takes EnvPool: ``"envpool"`` (refused with a
    ConfigError when EnvPool cannot serve), or ``"auto"`` for an Atari id when EnvPool is installed
    and serves its kwargs and stack as they are. ``"auto"`` keeps classic control on the torch
    backend or Gymnasium, and MuJoCo on Gymnasium: the inspector and videos draw those from
    Gymnasium's renderer, which EnvPool's envs do not give."""
    backend = config.env.backend
    if backend == "envpool":
        return plan(config)
    atari = config.env.id.startswith(ATARI_PREFIX)
    if backend != "auto" or not atari or not installed() or envpool_task(config.env.id) is None:
        return None
    try:
        return plan(config)
    except ConfigError:
        return None


def shown_plan(config: Any) -> EnvPoolPlan | None:
    """The plan the Transforms tab shows (None where EnvPool is not taken or cannot serve: the
    env's own error is shown where the env is probed)."""
    try:
        return chosen_plan(config)
    except ConfigError:
        return None
