"""Envs for a run: a Gymnasium env wrapped by TorchRL, then the config's transform stack."""

from __future__ import annotations

import os
import threading
from functools import partial
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium
import torch
from tensordict import TensorDictBase
from torchrl.envs import (
    DoubleToFloat,
    EnvBase,
    GymWrapper,
    InitTracker,
    RewardSum,
    SerialEnv,
    StepCounter,
    TransformedEnv,
)

from tui_rl.config.models import RunConfig, TransformConfig
from tui_rl.config.errors import ConfigError
from tui_rl.engine.envs.env_error import EnvError
from tui_rl.engine.envs.batched import BatchedClassicEnv, env_backend, make_batched_env
from tui_rl.engine.envs.envpool_env import CopiesEndOfLife, EnvPoolEnv, make_envpool_env
from tui_rl.engine.envs.envpool_preprocessing import plan
from tui_rl.engine.envs.dm_control import DMControlTask, is_dm_control, make_dm_control_env
from tui_rl.engine.compat import release_gym_import_error
from tui_rl.engine.envs.families import is_multi_agent, require_family
from tui_rl.engine.envs.multi_agent import (
    describe_groups,
    group_action_kinds,
    is_multi_agent_env,
    make_multi_agent_env,
)
from tui_rl.engine.envs.action_spaces import keep_action_parts
from tui_rl.engine.envs.action_masks import mask_actions
from tui_rl.config.algorithms import ActionKind
from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY, choice_counts, has_action_mask, spec_kind
from tui_rl.engine.networks.recurrent import memory_primers
from tui_rl.engine.envs.user_envs import gymnasium_id
from tui_rl.engine.envs.observation_shaping import (
    joined_keys,
    joined_observation,
    one_hot_observations,
    one_hot_text,
    flattened_observations,
    flattened_space,
)
from tui_rl.engine.envs.transforms import build_transform, drives_env, per_copy, prepare_transform

#: keys the training loop reads: the running episode return and the step count within the episode
EPISODE_REWARD_KEY = "episode_reward"
STEP_COUNT_KEY = "step_count"
#: what the bookkeeping transforms add to the observation spec (InitTracker's key is its default)
BOOKKEEPING_KEYS = (EPISODE_REWARD_KEY, STEP_COUNT_KEY, "is_init")


#: one thread at a time swaps file descriptor 2 (see quiet_native_stderr)
_STDERR_LOCK = threading.Lock()


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native libraries write straight to a terminal's file descriptor 2 while an
    env is made (ALE's banner, MuJoCo's deprecation notes): it would scribble over the app's
    screen. Python exceptions are unaffected; where stderr is not a terminal nothing changes."""
    if not os.isatty(2):
        yield
        return
    with _STDERR_LOCK:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def make_gym_env(config: RunConfig, num_envs: int, render: bool) -> gymnasium.Env:
    env_cfg = config.env
    missing = require_family(env_cfg.id)  # registers ALE / MinAtar ids, or names the extra
    if missing is not None:
        raise EnvError.at("env.id", f"cannot make {env_cfg.id!r}: {missing}")
    try:
        env_id = gymnasium_id(env_cfg.id, env_cfg.imports)
    except ConfigError as exc:  # an EnvError, so preflight keeps the field it names
        raise EnvError(str(exc), exc.errors) from None
    kwargs = dict(env_cfg.kwargs)
    if env_cfg.max_episode_steps is not None:
        kwargs["max_episode_steps"] = env_cfg.max_episode_steps
    if render:
        kwargs["render_mode"] = "rgb_array"
    try:
        if num_envs == 1:
            with quiet_native_stderr():
                return gymnasium.make(env_id, **kwargs)
        # A sync vector env steps every copy in this process: on few cores it beats one process per
        # copy. With autoreset DISABLED, TorchRL resets finished copies itself (partial resets).
        with quiet_native_stderr():
            return gymnasium.make_vec(
                env_id,
                num_envs=num_envs,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.DISABLED},
                **kwargs,
            )
    except Exception as exc:  # gymnasium raises many kinds: unknown id, missing extras, bad kwargs
        raise make_error(env_cfg.id, env_id, env_cfg.kwargs, exc) from None


def make_error(shown_id: str, env_id: str, kwargs: dict[str, Any], exc: Exception) -> EnvError:
    """Why ``env_id`` (``shown_id`` in the config) could not be made, blaming the field at fault:
    a kwarg the env refuses (``env.kwargs.<key>``) when it makes without its kwargs, else the id."""
    if not kwargs or gym_make_refusal(env_id, {}) is not None:
        return EnvError.at("env.id", f"cannot make {shown_id!r}: {exc}")
    for key, value in kwargs.items():
        refusal = gym_make_refusal(env_id, {key: value})
        if refusal is not None:
            return EnvError.at(f"env.kwargs.{key}", f"{shown_id} does not take {key}={value!r}: {refusal}")
    return EnvError.at("env.kwargs", f"{shown_id} cannot be made with {', '.join(kwargs)} together: {exc}")


def gym_make_refusal(env_id: str, kwargs: dict[str, Any]) -> Exception | None:
    """What ``gymnasium.make`` raises for ``env_id`` with ``kwargs``; None when it makes."""
    try:
        with quiet_native_stderr():
            gymnasium.make(env_id, **kwargs).close()
    except Exception as exc:  # the same many kinds as above
        return exc
    return None


def make_env(
    config: RunConfig,
    *,
    device: str | torch.device = "cpu",
    num_envs: int | None = None,
    render: bool = False,
) -> TransformedEnv:
    """The run's env: Gymnasium env -> GymWrapper (or tui-rl's batched torch env, by
    ``env.backend``) -> the config's transforms, with the bookkeeping.

    The bookkeeping transforms (RewardSum into ``episode_reward``, StepCounter into ``step_count``,
    InitTracker for OU noise and memory cores) are added unless the user's stack has them. They go
    first, so the episode return is the env's own, before any reward scaling or clipping: the
    targets of presets are stated in those terms. Only transforms that step or reset the env
    themselves (frame skip, no-op resets) come before them, so an episode's return and length
    count every frame of it, and those that act on one env copy (end of life): with several
    copies, each copy is its own env with them (a SerialEnv). A memory core's state primer goes last.
    The env is seeded with ``config.env.seed``.
    """
    num_envs = num_envs or config.env.num_envs
    try:
        backend = env_backend(config)
        pool = plan(config) if backend == "envpool" else None
    except ConfigError as exc:  # an EnvError, so preflight keeps the field it names
        raise EnvError(str(exc), exc.errors) from None
    # EnvPool does Atari's standard preprocessing inside: TorchRL applies the rest of the stack
    stack = config.transforms if pool is None else pool.rest(config.transforms)
    lead = stack[: lead_length(stack)]
    if is_multi_agent(config.env.id):
        try:
            env = transformed(make_multi_agent_env(config, num_envs, device))
        except ConfigError as exc:  # an EnvError, so preflight keeps the field it names
            raise EnvError(str(exc), exc.errors) from None
    elif backend == "torch":
        env = transformed(make_batched_env(config.env, num_envs, device))
    elif pool is not None:
        env = with_float32(make_envpool_env(pool, num_envs, config.env.seed, device), config)
    elif num_envs > 1 and any(per_copy(cfg.name) for cfg in lead):
        # TorchRL's no-op resets and end-of-life flags act on one env: each copy gets its own
        # (as TorchRL's Atari examples do), stepped in turn like Gymnasium's sync vector env.
        env = TransformedEnv(SerialEnv(num_envs, partial(make_copy, config, lead, render, device)))
        lead = []
    else:
        env = make_copy(config, lead, render, device, num_envs)
        lead = []

    user_names = {t.name for t in config.transforms}
    bookkeeping = []
    if "RewardSum" not in user_names:  # a multi-agent env's return per group, beside its reward
        rewards = env.reward_keys
        bookkeeping.append(RewardSum(in_keys=rewards, out_keys=[episode_reward_key(key) for key in rewards]))
    if "StepCounter" not in user_names:
        bookkeeping.append(StepCounter(step_count_key=STEP_COUNT_KEY))
    primers = memory_primers(config.network)  # a memory core's state, carried from step to step
    if (config.algorithm.needs_init_tracker() or primers) and "InitTracker" not in user_names:
        bookkeeping.append(InitTracker())
    for cfg in lead:
        if pool is not None and cfg.name == "EndOfLifeTransform":
            env.append_transform(CopiesEndOfLife(**cfg.params))  # every copy's lives, EnvPool's
        else:
            append_configured(env, cfg, config.env.id)
    for transform in bookkeeping:
        env.append_transform(transform)
    if pool is None:
        env.set_seed(config.env.seed)  # EnvPool's copies are seeded once, when made
    for cfg in stack[lead_length(stack) :]:
        append_configured(env, cfg, config.env.id)
    if not is_multi_agent_env(env):  # a group's observations are read by its own networks
        for encoding in one_hot_observations(env):  # before the join, which takes the one-hot vectors
            env.append_transform(encoding)
        if (join := joined_observation(env, config.network, config.env.id)) is not None:
            env.append_transform(join)
    for primer in primers:
        env.append_transform(primer)
    return env


def episode_reward_key(reward_key: str | tuple[str, ...]) -> str | tuple[str, ...]:
    """Where the running return of ``reward_key`` goes: ``episode_reward`` beside it (in its group)."""
    return reward_key[:-1] + (EPISODE_REWARD_KEY,) if isinstance(reward_key, tuple) else EPISODE_REWARD_KEY


def lead_length(stack: list[TransformConfig]) -> int:
    """How many of the stack's transforms come before the bookkeeping: up to the last one that
    steps or resets the env itself, or that acts on one env copy."""
    leading = [i for i, cfg in enumerate(stack) if drives_env(cfg.name) or per_copy(cfg.name)]
    return leading[-1] + 1 if leading else 0


def make_copy(
    config: RunConfig, lead: list, render: bool, device: str | torch.device, num_envs: int = 1
) -> TransformedEnv:
    """The Gymnasium env (``num_envs`` copies in a sync vector env) wrapped by TorchRL, with the
    ``lead`` transforms of the config on it; a DeepMind Control task wrapped by TorchRL itself."""
    if not is_dm_control(config.env.id):
        env = wrapped_gym_env(config, num_envs, render, device)
    else:
        try:
            with quiet_native_stderr():  # the suite's models log deprecation notes as they load
                env = transformed(make_dm_control_env(config, num_envs, device))
        except ConfigError as exc:  # an EnvError, so preflight keeps the field it names
            raise EnvError(str(exc), exc.errors) from None
    env = with_float32(env, config)
    for cfg in lead:
        append_configured(env, cfg, config.env.id)
    return env


def with_float32(env: TransformedEnv, config: RunConfig) -> TransformedEnv:
    if "DoubleToFloat" not in {t.name for t in config.transforms} and holds_float64(env):
        env.append_transform(DoubleToFloat())  # the networks are float32: MuJoCo and many user envs give float64
    return env



def wrapped_gym_env(config: RunConfig, num_envs: int, render: bool, device: str | torch.device) -> TransformedEnv:
    """The Gymnasium env wrapped by TorchRL: its Tuple observations flattened, its action parts
    kept across copies, its action mask applied."""
    gym_env = make_gym_env(config, num_envs, render)
    gym_env = flattened_observations(gym_env)  # a Tuple's spec would stay a placeholder in GymWrapper
    try:
        wrapped = GymWrapper(gym_env, device=device, categorical_action_encoding=True)
    except Exception as exc:
        gym_env.close()
        raise EnvError.at("env.id", f"TorchRL cannot wrap {config.env.id!r}: {exc}") from None
    finally:
        release_gym_import_error()  # the first wrap imports the module whose error would hold this env
    env = transformed(wrapped)
    keep_action_parts(env, gym_env)
    try:
        mask_actions(env, config.env.id)
    except ConfigError as exc:  # an EnvError, so preflight keeps the field it names
        raise EnvError(str(exc), exc.errors) from None
    return env


def holds_float64(env: EnvBase) -> bool:
    """Whether any observation, reward or action entry of ``env`` is float64."""
    specs = (env.full_observation_spec, env.full_reward_spec, env.full_action_spec)
    return any(leaf.dtype == torch.float64 for spec in specs for leaf in spec.values(True, True))


def casts_float64(env: EnvBase) -> bool:
    """Whether ``env`` (one copy, as the specs pane builds it) casts float64 entries to float32."""
    return isinstance(env, TransformedEnv) and any(isinstance(t, DoubleToFloat) for t in env.transform)


def transformed(env: EnvBase) -> TransformedEnv:
    # Vector envs come back already wrapped in a TransformedEnv (TorchRL's vector-env transform).
    return env if isinstance(env, TransformedEnv) else TransformedEnv(env)


def append_configured(env: TransformedEnv, cfg, env_id: str) -> None:
    transform = build_transform(cfg)
    env.append_transform(transform)
    # Prepared at once: transforms stacked after it read its output specs (ObservationNorm's loc).
    try:
        prepare_transform(transform, cfg)
    except Exception as exc:
        env.close()
        raise EnvError.at(f"transforms.{cfg.name}", f"preparing it on {env_id!r} failed: {exc}") from None


def action_kind(env: EnvBase) -> ActionKind:
    """What ``env`` acts with (see :func:`spec_kind`); in a multi-agent env, its first group's
    agents (``multi_agent.group_action_kinds`` gives each group's)."""
    if is_multi_agent_env(env):
        return next(iter(group_action_kinds(env).values()))
    return spec_kind(env.action_spec_unbatched)


def describe_specs(env: EnvBase) -> dict[str, str]:
    """Short readable strings for the env's backend and its observation, action, reward and done
    specs (one env copy); the bookkeeping keys are listed apart, by name: they are no observation.
    A multi-agent env is described by its groups (each group's agents, observation and action)."""
    if is_multi_agent_env(env):
        return describe_groups(env)
    batch_dims = len(env.batch_size)

    def shape(spec) -> str:
        return "x".join(str(s) for s in spec.shape[batch_dims:]) or "scalar"

    leaves = list(env.observation_spec.items(include_nested=True, leaves_only=True))
    observations = ", ".join(
        f"{key}: {str(spec.dtype).removeprefix('torch.')} [{shape(spec)}]" for key, spec in leaves
        if key not in (*BOOKKEEPING_KEYS, ACTION_MASK_KEY)
    )
    action = env.action_spec
    kind = action_kind(env)
    if kind == "discrete":
        count = getattr(action.space, "n", None)
        action_text = f"discrete: {count} actions" if count else f"discrete [{shape(action)}]"
    elif kind == "multi-discrete":
        action_text = f"multi-discrete: {list(choice_counts(env.action_spec_unbatched))} choices"
    elif kind == "binary":
        action_text = f"binary [{shape(action)}]"
    else:
        low = action.space.low.flatten().tolist()[:1] if hasattr(action, "space") else []
        high = action.space.high.flatten().tolist()[:1] if hasattr(action, "space") else []
        bounds = f" in [{low[0]:g}, {high[0]:g}]" if low and high else ""
        action_text = f"continuous [{shape(action)}]{bounds}"
    if has_action_mask(env):
        action_text += f", masked by the env's {ACTION_MASK_KEY} (the legal ones)"
    reward = env.reward_spec
    backend = ("torch (batched tensors)" if isinstance(env.base_env, BatchedClassicEnv)
               else "envpool (C++ threads)" if isinstance(env.base_env, EnvPoolEnv)
               else "dm_control" if isinstance(env.base_env, DMControlTask) else "gymnasium")
    return {
        "backend": backend,
        "observation": observations,
        "action": action_text,
        "reward": f"{str(reward.dtype).removeprefix('torch.')} [{shape(reward)}]",
        "done": ", ".join(str(key) for key in env.done_keys),
        "bookkeeping": ", ".join(key for key, _ in leaves if key in BOOKKEEPING_KEYS),
        **({"cast": "float64 → float32 (DoubleToFloat: the networks are float32)"} if casts_float64(env) else {}),
        **({"joined": f"observation = {', '.join(joined)} (concatenated)"} if (joined := joined_keys(env)) else {}),
        **({"flattened": f"observation = {space} flattened into one float32 vector (discrete parts one-hot)"}
           if (space := flattened_space(env)) else {}),
        **({"one-hot": text} if (text := one_hot_text(env)) else {}),
    }


def preview_rollout(config: RunConfig, max_steps: int = 100) -> TensorDictBase:
    """A short episode of the transformed env with random actions (the setup pane's Preview)."""
    env = make_env(config, num_envs=1)
    try:
        return env.rollout(max_steps=max_steps)
    finally:
        env.close()
