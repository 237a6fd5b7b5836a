"""tui-rl's batched classic-control envs (the ``torch`` env backend) and which backend a config gets.

Each env steps all its copies as tensors with Gymnasium's dynamics (``tests/test_batched_envs.py``
compares them transition by transition). ``env.backend = "auto"`` takes one when the id has one and
it takes every kwarg given, else EnvPool for an Atari id when it is installed and serves the config's
kwargs and stack (``envs/envpool_preprocessing.py``), else Gymnasium; ``"torch"`` and ``"envpool"``
ask for theirs and are refused otherwise, naming the field.
"""

from __future__ import annotations

import torch

from tui_rl.config.errors import ConfigError
from tui_rl.config.models import EnvConfig, RunConfig
from tui_rl.engine.envs.envpool_preprocessing import chosen_plan
from tui_rl.engine.envs.batched.acrobot import Acrobot
from tui_rl.engine.envs.batched.base import BatchedClassicEnv
from tui_rl.engine.envs.batched.cartpole import CartPole
from tui_rl.engine.envs.batched.mountain_car import MountainCar, MountainCarContinuous
from tui_rl.engine.envs.batched.pendulum import Pendulum

BATCHED_ENVS: dict[str, type[BatchedClassicEnv]] = {
    env.gym_id: env for env in (CartPole, Acrobot, MountainCar, MountainCarContinuous, Pendulum)
}
#: most copies of Gymnasium's sync vector env (one Python env object per copy)
MAX_GYM_ENVS = 256


def env_backend(config: RunConfig) -> str:
    """``"torch"``, ``"envpool"`` or ``"gymnasium"``: the backend ``env.backend`` resolves to.
    Raises ConfigError naming ``env.backend``, ``env.kwargs.<key>``, ``transforms.<name>`` or
    ``env.num_envs`` when it cannot serve."""
    env = config.env
    batched = BATCHED_ENVS.get(env.id)
    unsupported = [key for key in env.kwargs if batched is None or key not in batched.options]
    if env.backend == "torch":
        if batched is None:
            raise ConfigError.at(
                "env.backend",
                f"{env.id} has no torch version; the envs that have one: {', '.join(BATCHED_ENVS)}",
            )
        if unsupported:
            takes = ", ".join(batched.options) or "none"
            raise ConfigError.at(
                f"env.kwargs.{unsupported[0]}",
                f"the torch version of {env.id} does not take {unsupported[0]} (it takes: {takes}); "
                "set env.backend = 'gymnasium' to pass it to Gymnasium",
            )
        return "torch"
    if env.backend == "envpool" or (env.backend == "auto" and (batched is None or unsupported)):
        if chosen_plan(config) is not None:
            return "envpool"
    backend = "torch" if env.backend == "auto" and batched is not None and not unsupported else "gymnasium"
    if backend == "gymnasium" and env.num_envs > MAX_GYM_ENVS:
        raise ConfigError.at(
            "env.num_envs",
            f"the gymnasium backend steps at most {MAX_GYM_ENVS} copies ({env.num_envs} asked); the torch backend "
            f"takes more, for {', '.join(BATCHED_ENVS)}",
        )
    return backend


def make_batched_env(env: EnvConfig, num_envs: int, device: str | torch.device) -> BatchedClassicEnv:
    """The torch version of ``env.id`` with ``num_envs`` copies (call :func:`env_backend` first)."""
    return BATCHED_ENVS[env.id](
        num_envs, device=device, max_episode_steps=env.max_episode_steps, **env.kwargs
    )
