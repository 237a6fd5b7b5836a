"""Env-only steps per second of the Gymnasium and EnvPool backends (random actions, no policy).

    python benchmarks/env_backends.py [--env ALE/Pong-v5] [--copies 1 8] [--steps 2000] [--threads 0]

Each env is the run's env as ``make_env`` builds it (the config's standard preprocessing, the
bookkeeping), stepped with TorchRL's ``step_and_maybe_reset`` as a collector steps it. A step is one
agent step of every copy: with Atari's frame skip that is 4 emulator frames per copy. It prints,
per backend and number of copies, agent steps per second summed over the copies.
"""

from __future__ import annotations

import argparse
import time

import torch

from tui_rl.config import validate
from tui_rl.engine.envs.families import family_of
from tui_rl.engine.envs.making import make_env


def config(env_id: str, backend: str, copies: int):
    family = family_of(env_id)
    return validate({
        "env": {"id": env_id, "backend": backend, "num_envs": copies, "kwargs": dict(family.kwargs) if family else {}},
        "transforms": [dict(t) for t in family.transforms] if family else [],
    })


def steps_per_second(env_id: str, backend: str, copies: int, steps: int) -> float:
    env = make_env(config(env_id, backend, copies))
    td = env.reset()
    for _ in range(20):  # warm up
        _, td = env.step_and_maybe_reset(env.rand_action(td))
    start = time.perf_counter()
    for _ in range(steps):
        _, td = env.step_and_maybe_reset(env.rand_action(td))
    elapsed = time.perf_counter() - start
    env.close()
    return steps * copies / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ALE/Pong-v5")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--steps", type=int, default=2000, help="agent steps of every copy")
    parser.add_argument("--backends", nargs="+", default=["gymnasium", "envpool"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{args.env}: env-only agent steps/s (all copies), {args.steps} steps each")
    for copies in args.copies:
        for backend in args.backends:
            rate = steps_per_second(args.env, backend, copies, args.steps)
            print(f"  {backend:<10} copies={copies:<3} {rate:10.0f} steps/s")


if __name__ == "__main__":
    main()
