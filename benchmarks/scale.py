"""Frames/s collected with 1, 2 and 4 workers for each collection backend, and the learner's
updates/s on CPU (and CUDA when there is one), as ratios to the single-process figure.

    python benchmarks/scale.py [PRESET] [--seconds 5] [--workers 1 2 4] [--backends single processes ray]

Each figure is the preset's own collector as the training loop builds it (engine/run/collectors.py:
the preset's env, transforms and exploration policy, TorchRL's Collector, MultiSyncCollector or
RayCollector), iterated for ``--seconds`` after two warm-up batches (the first weight push
included), with the learner's weights pushed to the workers after every batch as in training.
All figures come from one run of this script on one machine, so the ratios hold there; they move
with the machine's cores and its load. Beside each figure: the CPU this (trainer) process used
per second of the window, and the machine's 1-minute load average when the window ended, so a
figure taken on a busy machine says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def rate(step, seconds: float) -> tuple[float, float]:
    """Call ``step()`` (it returns how many units it did) for ``seconds``: units per second, and
    this process's CPU seconds per second meanwhile."""
    for _ in range(2):  # warm-up: first resets, lazy allocations, the first weight push
        step()
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        done += step()
    wall = time.perf_counter() - started
    return done / wall, (time.process_time() - cpu) / wall


def row(name: str, workers: str, per_s: float, ratio: str, cpu: float) -> str:
    return f"{name:<10} {workers:>7} {per_s:>10,.0f} {ratio:>9} {cpu:>12.0%} {os.getloadavg()[0]:>5.1f}"


def collection_rate(preset: str, backend: str, workers: int, seconds: float, overrides: list[str]) -> tuple[float, float]:
    import torch

    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.run.collectors import Collection
    from tui_rl.engine.envs.making import make_env

    config = apply_overrides(load_preset(preset), overrides)
    frames = config.collector.frames_per_batch * max(workers, 1)  # each worker a full batch's worth
    config = apply_overrides(config, [
        f"collector.backend={backend}", f"collector.workers={workers}",
        f"collector.frames_per_batch={frames}", "collector.init_random_frames=0",
    ])
    env = make_env(config)
    algorithm = build_algorithm(config, env, torch.device("cpu"))
    collection = Collection(config, env, algorithm.collector_policy, torch.device("cpu"))
    batches = iter(collection)
    try:
        return rate(lambda: next(batches).numel(), seconds)
    finally:
        collection.shutdown()
        env.close()


def update_rate(preset: str, device: str, seconds: float) -> tuple[float, float]:
    """Gradient updates per second of the preset's algorithm on one collected batch, replayed."""
    import torch
    from torchrl.collectors import Collector

    from tui_rl.config import load_preset
    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.envs.making import make_env

    config = load_preset(preset)
    env = make_env(config)
    algorithm = build_algorithm(config, env, torch.device(device))
    collector = Collector(env, algorithm.collector_policy, frames_per_batch=max(1024, config.collector.frames_per_batch),
                          total_frames=-1, storing_device=device, auto_register_policy_transforms=False)
    batch = next(iter(collector))
    collector.shutdown()
    updates = getattr(config.algorithm, "updates_per_batch", 1)
    frames = [0]

    def step() -> int:
        frames[0] += batch.numel()
        algorithm.update(batch, frames[0])
        return updates

    try:
        return rate(step, seconds)
    finally:
        env.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="cartpole-dqn")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backends", nargs="+", default=["single", "processes", "ray"])
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help="config override, as `tui-rl train --set`")
    args = parser.parse_args(argv)

    import torch

    from tui_rl.engine.run import machine

    torch.set_num_threads(1)  # as the trainer does
    print(f"{args.preset}: {machine.describe('')}")
    print(f"{'backend':<10} {'workers':>7} {'frames/s':>10} {'x single':>9} {'trainer cpu':>12} {'load':>5}")
    single = None
    for backend in args.backends:
        for workers in [1] if backend == "single" else args.workers:
            try:
                fps, cpu = collection_rate(args.preset, backend, workers, args.seconds, args.set)
            except Exception as exc:  # a backend that cannot run here says why; the others go on
                print(f"{backend:<10} {workers:>7} {'-':>10} {'':>9}  ({type(exc).__name__}: {str(exc).splitlines()[0]})")
                continue
            single = single or (fps if backend == "single" else None)
            print(row(backend, str(workers), fps, f"{fps / single:.2f}" if single else "-", cpu))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    cpu_updates = None
    print(f"\n{'learner':<10} {'':>7} {'updates/s':>10} {'x cpu':>9} {'trainer cpu':>12} {'load':>5}")
    for device in devices:
        ups, cpu = update_rate(args.preset, device, args.seconds)
        cpu_updates = cpu_updates or ups
        print(row(device, "", ups, f"{ups / cpu_updates:.2f}", cpu))
    return 0


if __name__ == "__main__":  # torchrl starts workers with spawn: they import this module
    sys.exit(main())
