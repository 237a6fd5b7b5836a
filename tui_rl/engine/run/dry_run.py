"""The last of the checks before a run: a dry run of its first batch.

The static checks (engine/run/preflight.py) read specs; this runs what the trainer will run, small:
the env made as the run makes it (backend, copies, transform stack), reset and stepped; the
algorithm and its networks built; the policy acting on that step; one batch collected by a TorchRL
collector, shaped as the run's will be; the algorithm's own update on it (loss, one backward pass,
one optimiser step). With the processes or Ray backend one worker's env is also made, as the
worker will make it. Whatever raises is a ConfigError naming the field at fault and keeping the
exception's own words, so "the checks pass" means the first batch trains.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torchrl.collectors import Collector

from tui_rl.config import ConfigError, RunConfig
from tui_rl.engine.run.parts import resolve_device

#: steps each env copy takes in the dry batch (a memory core's or a slice sampler's sequences need more)
DRY_STEPS = 4


def dry_run(config: RunConfig) -> None:
    """Run ``config``'s first batch, small, and throw it away; ConfigError naming the field when
    any part of it raises."""
    torchrl_log = logging.getLogger("torchrl")
    level = torchrl_log.level
    torchrl_log.setLevel(logging.WARNING)  # its INFO lines (a storage allocated) say nothing of the run
    try:
        run_first_batch(config)
    finally:
        torchrl_log.setLevel(level)


def run_first_batch(config: RunConfig) -> None:
    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.envs.making import make_env

    small = shrunk(config)
    if config.collector.backend != "single":
        with failing_as("env.id", "one collector worker's env cannot be made"):
            worker_env(config).close()
    with failing_as("env.id", "the env cannot be made as the run makes it"):
        env = make_env(small)
    collector = None
    try:
        with failing_as("env.id", "the env cannot reset"):
            first = env.reset()
        with tempfile.TemporaryDirectory(prefix="tui-rl-dry-run-") as scratch:
            with failing_as("network", "the networks cannot be built for this env"):
                algorithm = build_algorithm(small, env, resolve_device(config.device), Path(scratch))
            with failing_as("network", "the policy cannot act on the env's first observation"):
                acted = algorithm.collector_policy(first.to(algorithm.device)).to("cpu")
            with failing_as("env.id", "the env cannot take the policy's action"):
                env.step(acted)
            with failing_as("env.id", "the first batch cannot be collected"):
                collector = Collector(
                    env, algorithm.collector_policy, frames_per_batch=small.collector.frames_per_batch,
                    total_frames=small.collector.frames_per_batch, policy_device=algorithm.device,
                    storing_device=algorithm.device, env_device="cpu", auto_register_policy_transforms=False,
                )
                batch = next(iter(collector))
            with failing_as("algorithm.name", f"{config.algorithm.name} cannot train on the first batch"):
                algorithm.update(batch, frames=small.collector.frames_per_batch)
    finally:
        if collector is not None:
            collector.shutdown()
        if not env.is_closed:
            env.close()


def shrunk(config: RunConfig) -> RunConfig:
    """``config`` as small as its first batch allows: one collector in this process, a few steps of
    each env copy, a small replay buffer in memory, one pass of one update, no compilation."""
    steps = DRY_STEPS
    if config.replay_buffer.sampler == "slice":
        steps = max(steps, config.replay_buffer.slice_len)
    frames = config.env.num_envs * steps
    collector = config.collector.model_copy(update={
        "backend": "single", "workers": 1, "sync": True, "frames_per_batch": frames, "total_frames": frames,
        "init_random_frames": 0,
    })
    storage = "list" if config.replay_buffer.storage == "list" else "tensor"
    replay = config.replay_buffer.model_copy(update={"size": max(frames, 64), "storage": storage})
    one_pass = {name: 1 for name in ("epochs", "updates_per_batch") if name in type(config.algorithm).model_fields}
    return config.model_copy(update={
        "collector": collector, "replay_buffer": replay, "algorithm": config.algorithm.model_copy(update=one_pass),
        "compile": False,
    })


def worker_env(config: RunConfig):
    """Worker 0's env, made here as the worker process or Ray actor will make it."""
    from tui_rl.engine.run.collectors import WorkerEnv

    env = WorkerEnv(config, 0)()
    try:
        env.rand_step(env.reset())
    except BaseException:
        env.close()
        raise
    return env


@contextmanager
def failing_as(path: str, what: str) -> Iterator[None]:
    """A failure inside becomes a ConfigError of field ``path``: ``what``, then the exception's own
    first line. A ConfigError that names its field already is kept as it is."""
    try:
        yield
    except ConfigError as exc:
        if any(error.path for error in exc.errors):
            raise
        raise ConfigError.at(path, f"{what}: {exc}") from None
    except Exception as exc:
        raise ConfigError.at(path, f"{what}: {first_line(exc)}") from None


def first_line(exc: Exception, limit: int = 300) -> str:
    """An exception as one short line: torchrl's messages can hold whole specs."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["dry_run", "first_line"]
