"""Env steps per second collected on CartPole, beside raw Gymnasium and one plain TorchRL GymEnv,
then fast mode: tui-rl's batched torch env against today's Gymnasium vector-env path.

    python benchmarks/throughput.py [PRESET] [--num-envs 64 128] [--seconds 3] [--solve-seeds 0 1 2]
                                    [--image-envs ID ...]

All figures come from the same run, so the ratios hold on any machine. The preset's collector is
what the training loop runs: the preset's env and transforms, a TorchRL Collector with the
algorithm's exploration policy (one forward pass per step of all env copies). The output ends
with the line ``fast collector: N steps/s with 1024 copies, R x the Gymnasium path``.
"""

from __future__ import annotations

import argparse
import sys
import time


def steps_per_second(step_batch, seconds: float) -> float:
    """Call ``step_batch()`` (which returns how many env steps it took) for ``seconds``; steps/s."""
    step_batch()  # warm-up: first resets, lazy allocations
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        steps += step_batch()
    return steps / (time.perf_counter() - started)


def raw_gymnasium(env_id: str, seconds: float) -> float:
    import gymnasium

    env = gymnasium.make(env_id)
    env.reset(seed=0)

    def step_batch() -> int:
        for _ in range(1000):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        return 1000

    return steps_per_second(step_batch, seconds)


def collector_rate(env, policy, frames_per_batch: int, seconds: float) -> float:
    from torchrl.collectors import Collector

    collector = Collector(
        env, policy, frames_per_batch=frames_per_batch, total_frames=-1,
        auto_register_policy_transforms=False,
    )
    batches = iter(collector)
    try:
        return steps_per_second(lambda: next(batches).numel(), seconds)
    finally:
        collector.shutdown()


def plain_gym_env(env_id: str, seconds: float) -> float:
    """One TorchRL GymEnv and a Collector with its default random policy."""
    from torchrl.envs import GymEnv

    return collector_rate(GymEnv(env_id), None, 256, seconds)


def preset_collector(
    preset: str, num_envs: int | None, seconds: float, backend: str = "gymnasium", steps_per_batch: int = 1
) -> tuple[int, float]:
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.envs.making import make_env

    config = apply_overrides(load_preset(preset), [f"env.backend={backend}"])
    if num_envs is not None:
        config = apply_overrides(config, [f"env.num_envs={num_envs}"])
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    # At least ``steps_per_batch`` steps of every copy per batch (one, as the loop would need).
    frames = max(config.collector.frames_per_batch, config.env.num_envs * steps_per_batch)
    return config.env.num_envs, collector_rate(env, algorithm.collector_policy, frames, seconds)


#: steps of every copy per collector batch in the fast-mode comparison (Gymnasium path and fast
#: env alike), so a batch's fixed cost weighs the same on both
FAST_BATCH_STEPS = 16
#: copies of Gymnasium's sync vector env on today's path, and of the fast env
GYM_PATH_COPIES = 128
FAST_COPIES = (128, 1024)


def raw_fast_env(env_id: str, num_envs: int, seconds: float, device: str = "cpu") -> float:
    """tui-rl's batched torch env alone, no transforms: ``step_and_maybe_reset`` with random actions
    drawn beforehand (finished copies are reset as in collection)."""
    from tui_rl.engine.envs.batched import BATCHED_ENVS

    env = BATCHED_ENVS[env_id](num_envs, device=device)
    env.set_seed(0)
    actions = [env.action_spec.rand() for _ in range(64)]
    data = env.reset()
    step = 0

    def step_batch() -> int:
        nonlocal data, step
        for _ in range(100):
            data.set("action", actions[step % len(actions)])
            _, data = env.step_and_maybe_reset(data)
            step += 1
        return 100 * num_envs

    return steps_per_second(step_batch, seconds)


def fast_env_ops(env_id: str, num_envs: int, seconds: float) -> float:
    """The batched torch env's own work per step (its ``_step``: dynamics, time limit, the output
    TensorDict), without TorchRL's step / reset machinery around it."""
    from tensordict import TensorDict

    from tui_rl.engine.envs.batched import BATCHED_ENVS

    env = BATCHED_ENVS[env_id](num_envs)
    env.reset()
    data = TensorDict(action=env.action_spec.rand(), batch_size=env.batch_size)

    def step_batch() -> int:
        for _ in range(100):
            env._step(data)
        return 100 * num_envs

    return steps_per_second(step_batch, seconds)


def raw_numpy_vector_env(env_id: str, num_envs: int, seconds: float) -> float:
    """Gymnasium's own numpy vector env (CartPole's ``CartPoleVectorEnv``), stepped raw: the
    alternative to a torch env that the fast backend was measured against."""
    import gymnasium

    env = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    actions = [env.action_space.sample() for _ in range(64)]

    def step_batch() -> int:
        for index in range(100):
            env.step(actions[index % len(actions)])
        return 100 * num_envs

    try:
        return steps_per_second(step_batch, seconds)
    finally:
        env.close()


def solve_medians(presets: list[str], seeds: list[int]) -> None:
    """Median training seconds to each preset's target, per backend (benchmarks/solve.py's runs)."""
    import statistics

    from solve import solve_once

    for preset in presets:
        for backend in ("gymnasium", "torch"):
            results = [solve_once(preset, seed, [f"env.backend={backend}"]) for seed in seeds]
            solved = [r for r in results if r.solved]
            if solved:
                seconds = statistics.median(r.train_seconds for r in solved)
                frames = statistics.median(r.frames for r in solved)
                figure = f"{seconds:7.1f} s training, {frames:,.0f} steps"
            else:
                figure = "   not solved"
            print(f"  {preset:13s} {backend:9s}  {figure}  ({len(solved)} of {len(seeds)} seeds solved)", flush=True)


def fast_mode(preset: str, seconds: float, solve_seeds: list[int], raw: float) -> None:
    """Fast mode against today's path (Gymnasium sync vector env x128 through TorchRL), ending with
    the ``fast collector`` line."""
    from tui_rl.config import load_preset

    env_id = load_preset(preset).env.id
    _, gym_path = preset_collector(preset, GYM_PATH_COPIES, seconds, "gymnasium", FAST_BATCH_STEPS)
    print(f"fast mode on {env_id}: env steps per second (ratio to the Gymnasium path)")
    print(f"  raw Gymnasium, one env                           {raw:12,.0f}   {raw / gym_path:6.2f}")
    print(f"  Gymnasium sync vector env x{GYM_PATH_COPIES} + Collector      {gym_path:12,.0f}   {1:6.2f}")
    numpy_vector = raw_numpy_vector_env(env_id, FAST_COPIES[-1], seconds)
    print(f"  Gymnasium numpy vector env x{FAST_COPIES[-1]}, no TorchRL {numpy_vector:12,.0f}   {numpy_vector / gym_path:6.2f}")
    ops = fast_env_ops(env_id, FAST_COPIES[-1], seconds)
    print(f"  fast env x{FAST_COPIES[-1]:<5d} own tensor ops, no TorchRL  {ops:12,.0f}   {ops / gym_path:6.2f}")
    for copies in FAST_COPIES:
        rate = raw_fast_env(env_id, copies, seconds)
        print(f"  fast env x{copies:<5d} raw steps                     {rate:12,.0f}   {rate / gym_path:6.2f}")
    import torch

    if torch.cuda.is_available():  # the same env on the GPU: every copy steps in one kernel per op
        for copies in (*FAST_COPIES, 65536):
            rate = raw_fast_env(env_id, copies, seconds, "cuda")
            print(f"  fast env x{copies:<5d} raw steps on CUDA             {rate:12,.0f}   {rate / gym_path:6.2f}")
    collected = 0.0
    for copies in FAST_COPIES:
        _, collected = preset_collector(preset, copies, seconds, "torch", FAST_BATCH_STEPS)
        label = f"fast env x{copies:<5d} + Collector ({preset} policy)"
        print(f"  {label:48s} {collected:12,.0f}   {collected / gym_path:6.2f}")
    if solve_seeds:
        print(f"solve-time medians over seeds {' '.join(map(str, solve_seeds))} (benchmarks/solve.py):")
        solve_medians(["cartpole-ppo", "cartpole-dqn"], solve_seeds)
    print(f"fast collector: {collected:,.0f} steps/s with {FAST_COPIES[-1]} copies, {collected / gym_path:.1f} x the Gymnasium path")


#: (ConvNet channels, kernels, strides) of the image policies: Nature DQN's for 84 x 84 Atari
#: frames, a small one for MinAtar's 10 x 10 maps (Young & Tian, 2019: 16 channels, 3 x 3)
CONVNETS = {"atari": ([32, 64, 64], [8, 4, 3], [4, 2, 1]), "minatar": ([16], [3], [1])}


def image_env_rate(env_id: str, seconds: float) -> tuple[str, float]:
    """Agent steps per second a Collector gathers from ``env_id`` with its family's standard
    preprocessing, acted in by a Q-network on TorchRL's ConvNet (uint8 frames scaled inside)."""
    from torch import nn
    from torchrl.modules import MLP, ConvNet, QValueActor

    from tui_rl.config import validate
    from tui_rl.engine.envs.families import family_of
    from tui_rl.engine.envs.making import describe_specs, make_env

    family = family_of(env_id)
    config = validate({"env": {"id": env_id, "kwargs": family.kwargs}, "transforms": list(family.transforms)})
    env = make_env(config)
    channels, kernels, strides = CONVNETS[family.name]
    scale = 1.0 if env.observation_spec["observation"].dtype.is_floating_point else 255.0

    class Scaled(nn.Module):  # uint8 frames to floats in [0, 1]
        def forward(self, frames):
            return frames.float() / scale

    q_net = nn.Sequential(
        Scaled(),
        ConvNet(num_cells=channels, kernel_sizes=kernels, strides=strides, activation_class=nn.ReLU),
        MLP(out_features=env.action_spec.space.n, num_cells=[512 if family.name == "atari" else 128]),
    )
    policy = QValueActor(q_net, in_keys=["observation"], spec=env.action_spec)
    policy(env.reset())  # the lazy layers take their sizes
    shape = describe_specs(env)["observation"].split(",")[0]
    return shape, collector_rate(env, policy, 128, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="cartpole-dqn")
    parser.add_argument(
        "--num-envs", type=int, nargs="*", default=[128],
        help="also measure the preset's collector with these numbers of env copies",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per figure")
    parser.add_argument(
        "--solve-seeds", type=int, nargs="*", default=[],
        help="also train cartpole-ppo and cartpole-dqn with each backend on these seeds (minutes each)",
    )
    parser.add_argument("--image-envs", nargs="*", default=["ALE/Pong-v5", "MinAtar/Breakout-v1"],
                        help="also measure these image envs with a ConvNet policy")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from tui_rl.config import load_preset

    env_id = load_preset(args.preset).env.id
    raw = raw_gymnasium(env_id, args.seconds)
    print(f"{env_id}, env steps per second (ratios to raw Gymnasium / to one GymEnv; gymnasium backend):")
    print(f"  raw Gymnasium, one env            {raw:10,.0f}")
    single = plain_gym_env(env_id, args.seconds)
    print(f"  TorchRL GymEnv + Collector        {single:10,.0f}   {single / raw:6.3f}   1.00")
    for num_envs in [None, *args.num_envs]:
        copies, rate = preset_collector(args.preset, num_envs, args.seconds)
        label = f"{args.preset} collector, {copies} env{'s' if copies > 1 else ''}"
        print(f"  {label:33s} {rate:10,.0f}   {rate / raw:6.3f}   {rate / single:4.1f}")
    for image_env in args.image_envs:
        shape, rate = image_env_rate(image_env, args.seconds)
        print(f"{image_env} ({shape}), standard preprocessing, ConvNet Q-policy: {rate:,.0f} agent steps/s")
    fast_mode(args.preset, args.seconds, args.solve_seeds, raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
