"""Whether a config can be built, checked before anything starts: ``tui-rl train`` (before the run
folder exists), ``tui-rl presets validate`` and the app's Start run the same checks, so a config
that passes here does not fail at set-up in the trainer.

Each failure is a :class:`ConfigError` whose ``errors`` name the field.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tui_rl.config import ConfigError, FieldError, RunConfig
from tui_rl.config.algorithms import agents_mismatch
from tui_rl.engine.envs.user_envs import bound_to_this_folder
from tui_rl.engine.extras import install_line, require


def check_buildable(config: RunConfig, runs_dir: Path = Path("runs")) -> None:
    """The env makes with its kwargs, each transform builds with its params, the algorithm fits
    the action space, the network fits the observation, the replay buffer fits in memory (on disk
    under ``runs_dir`` for a memmap storage), the loggers' packages are installed, the device is
    there and the collector backend can start (Ray installed, its cluster reachable); then the
    first batch trains in a dry run (engine/run/dry_run.py). Raises ConfigError naming the field;
    returns None when all hold."""
    check_agents(config)
    check_batch(config)
    check_loggers(config)
    check_device(config.device)
    check_collector(config)
    env = make_checked_env(config)
    try:
        check_action_space(config, env)
        check_network(config, env)
        check_replay_memory(config, env, runs_dir)
    finally:
        env.close()
    from tui_rl.engine.run.dry_run import dry_run

    dry_run(config)


@contextmanager
def about(path: str) -> Iterator[None]:
    """Give a ConfigError raised inside that names no field the field ``path``."""
    try:
        yield
    except ConfigError as exc:
        if any(error.path for error in exc.errors):
            raise
        raise ConfigError(str(exc), (FieldError(path, str(exc)),)) from None


def check_agents(config: RunConfig) -> None:
    """A multi-agent algorithm trains in a multi-agent env only, and a single-agent one in a
    single-agent env only: refused from the env's family, before any env is made."""
    from tui_rl.engine.envs.families import is_multi_agent

    mismatch = agents_mismatch(config.algorithm.name, config.env.id, is_multi_agent(config.env.id))
    if mismatch:
        raise ConfigError.at("algorithm.name", mismatch.removeprefix("algorithm.name: "))


def check_batch(config: RunConfig) -> None:
    """A batch fits the budget, and each env copy steps at least once per batch: otherwise the
    first batch alone runs far past what was asked (TorchRL steps every copy)."""
    collector = config.collector
    if collector.frames_per_batch > collector.total_frames:
        raise ConfigError.at("collector.frames_per_batch", f"{collector.frames_per_batch:,} frames per batch exceed "
                             f"the whole budget (collector.total_frames = {collector.total_frames:,})")
    per_worker = collector.frames_per_batch // collector.workers
    if config.env.num_envs > per_worker:
        raise ConfigError.at("env.num_envs", f"{config.env.num_envs:,} env copies step more frames at once than a "
                             f"batch holds ({per_worker:,} per collector worker): at most {per_worker:,}")


def check_loggers(config: RunConfig) -> None:

    for name, wanted in config.logging:
        if wanted:  # each logging field is named for the package it needs
            with about(f"logging.{name}"):
                require(name, f"logging.{name}")


def check_device(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError.at("device", "cuda was asked for, but torch sees no CUDA device; use cpu or auto")


def check_collector(config: RunConfig) -> None:
    """The ray backend needs Ray installed and, with ``collector.ray_address``, a cluster that
    answers there (checked within seconds, naming the address and why)."""
    from tui_rl.engine.run import machine

    collector = config.collector
    if collector.backend != "ray":
        return
    if not machine.has_ray():
        raise ConfigError.at(
            "collector.backend", f"the ray backend needs the ray package, which is not installed ({install_line('ray')})"
        )
    local_code = bound_to_this_folder(config.env.id, config.env.imports)
    if local_code is not None:
        raise ConfigError.at("collector.backend", f"Ray workers may run in another folder or on another machine, "
                                                  f"where {local_code} is not found: name your env's file by its "
                                                  "absolute path in env.id, or install its package")
    address = collector.ray_address.strip()
    problem = machine.ray_unreachable(address) if address else None
    if problem:
        raise ConfigError.at("collector.ray_address", f"the Ray cluster at {address} cannot be reached: {problem}")


def collector_warnings(config: RunConfig) -> list[str]:
    """What runs, but badly: more collector workers on this machine than it has cores."""
    from tui_rl.engine.run import machine

    collector, cores = config.collector, machine.cores()
    local = collector.backend == "processes" or (collector.backend == "ray" and not collector.ray_address.strip())
    if local and collector.workers > cores:
        return [
            f"collector.workers = {collector.workers} on {cores} CPU cores: the workers and the "
            f"learner take turns on the cores, so more than {cores} workers collect no faster"
        ]
    return []


def make_checked_env(config: RunConfig):
    """The run's env (one copy), each transform built first so a bad one is named by its place."""
    from tui_rl.engine.envs.transforms import build_transform, check_stack

    for index, transform in enumerate(config.transforms):
        with about(f"transforms.{index}"):
            build_transform(transform)
    check_stack(config.transforms)
    try:
        return make_usable_env(config)
    except Exception as exc:  # torchrl refuses a transform that does not fit the specs in many ways
        raise blame(config, exc) from None


def make_usable_env(config: RunConfig):
    """The env, reset once and its specs read whole: what the trainer does first."""
    from tui_rl.engine.envs.making import make_env

    env = make_env(config, num_envs=1)
    try:
        env.reset()
        env.fake_tensordict()
    except BaseException:
        env.close()
        raise
    return env


def blame(config: RunConfig, exc: Exception) -> ConfigError:
    """The field at fault when the env cannot be made: its id, one of its kwargs, or the first
    transform of the stack that does not fit what comes before it."""
    from tui_rl.engine.envs.making import EnvError
    from tui_rl.engine.run.dry_run import first_line

    if isinstance(exc, EnvError):  # make_env already named the env field at fault
        return exc
    reason = str(exc) if isinstance(exc, ConfigError) else first_line(exc)
    for index, transform in enumerate(config.transforms):
        if not makes(config.model_copy(update={"transforms": config.transforms[: index + 1]})):
            return ConfigError.at(
                f"transforms.{index}", f"{transform.name} does not fit {config.env.id} here: {reason}"
            )
    return ConfigError(reason, (FieldError("env", reason),))


def makes(config: RunConfig) -> bool:
    try:
        make_usable_env(config).close()
    except Exception:  # the failure itself is reported by the caller
        return False
    return True


def check_action_space(config: RunConfig, env) -> None:
    from tui_rl.engine.algorithms import algorithm_mismatch

    mismatch = algorithm_mismatch(config, env)
    if mismatch:
        field = mismatch.split(":")[0]  # env.id when no algorithm takes the space
        raise ConfigError(mismatch, (FieldError(field, mismatch),))


def check_network(config: RunConfig, env) -> None:
    """The encoder reads the env's observation: a ConvNet an image its layers fit, an MLP a vector.
    (A multi-agent env's groups are read by MultiAgentMLPs, one per group, built for their specs.)"""
    from tui_rl.engine.networks.encoders import checked_inputs

    if config.algorithm.multi_agent:
        return
    checked_inputs(config.network, env, config.env.id)


def check_replay_memory(config: RunConfig, env, runs_dir: Path) -> None:
    """The replay storage is allocated whole: in files under the run folder for a memmap storage,
    else on the training device. It must fit there."""
    if config.algorithm.on_policy:
        return
    size = config.replay_buffer.size
    per_transition = env.fake_tensordict().bytes() + (16 if config.replay_buffer.sampler == "prioritized" else 0)
    on_disk = config.replay_buffer.storage == "memmap"
    available = disk_bytes(runs_dir) if on_disk else memory_bytes(config.device)
    needed = size * per_transition
    if needed > available:
        where = f"free disk under {runs_dir} (replay_buffer.storage = memmap)" if on_disk else "memory"
        raise ConfigError.at(
            "replay_buffer.size",
            f"{size:,} transitions of {per_transition:,} bytes need {gigabytes(needed)}; this machine "
            f"has {gigabytes(available)} of {where}, which holds at most {available // per_transition:,}",
        )


def disk_bytes(runs_dir: Path) -> int:
    """Free disk where the run folder will be (its nearest existing parent)."""
    folder = Path(runs_dir).absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def memory_bytes(device: str) -> int:
    """The memory the replay storage can live in: the GPU's with cuda, else this machine's RAM."""
    import torch

    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.mem_get_info()[1]
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def gigabytes(count: int) -> str:
    return f"{count / 1e9:,.1f} GB"
