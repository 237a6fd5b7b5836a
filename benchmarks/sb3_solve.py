"""One Stable-Baselines3 run to a target evaluation return, with RL Zoo's hyperparameters.

Run by ``benchmarks/solve.py --sb3`` with the side environment's interpreter (it imports
stable_baselines3, which tui-rl does not depend on); by hand:

    python benchmarks/sb3_solve.py cartpole-ppo --seed 0 --eval-every 2048 --episodes 10 --target 475

It trains until an EvalCallback's mean return reaches ``--target`` (StopTrainingOnRewardThreshold)
or the recipe's budget ends, and prints one JSON line: solved, steps, the training seconds and CPU
seconds (``learn()`` less the time spent evaluating) up to the solving evaluation, the wall seconds
of ``learn()``, and the best and last evaluation returns.
"""

from __future__ import annotations

import argparse
import json
import time

#: RL Zoo's tuned hyperparameters (DLR-RM/rl-baselines3-zoo, hyperparams/ppo.yml ``CartPole-v1``,
#: dqn.yml ``CartPole-v1``, sac.yml ``Pendulum-v1``), keyed by the tui-rl preset they are set beside.
#: ``lin_X`` in the zoo is a schedule falling linearly from X to 0 over the budget.
RECIPES: dict[str, dict] = {
    "cartpole-ppo": {
        "algo": "ppo", "env": "CartPole-v1", "n_envs": 8, "n_timesteps": 100_000,
        "kwargs": {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98, "n_epochs": 20,
                   "ent_coef": 0.0, "learning_rate": "lin_0.001", "clip_range": "lin_0.2"},
    },
    "cartpole-dqn": {
        "algo": "dqn", "env": "CartPole-v1", "n_envs": 1, "n_timesteps": 50_000,
        "kwargs": {"learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1000,
                   "gamma": 0.99, "target_update_interval": 10, "train_freq": 256, "gradient_steps": 128,
                   "exploration_fraction": 0.16, "exploration_final_eps": 0.04,
                   "policy_kwargs": {"net_arch": [256, 256]}},
    },
    "pendulum-sac": {
        "algo": "sac", "env": "Pendulum-v1", "n_envs": 1, "n_timesteps": 20_000,
        "kwargs": {"learning_rate": 1e-3},
    },
}


def linear(start: float):
    return lambda progress_remaining: progress_remaining * start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", choices=sorted(RECIPES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, required=True, help="env steps between evaluations")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--target", type=float, required=True)
    args = parser.parse_args()

    import torch
    from stable_baselines3 import DQN, PPO, SAC
    from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)  # as tui-rl's trainer (and RL Zoo's --num-threads 1)
    recipe = RECIPES[args.preset]
    kwargs = {k: linear(float(v[4:])) if isinstance(v, str) and v.startswith("lin_") else v
              for k, v in recipe["kwargs"].items()}
    env = make_vec_env(recipe["env"], n_envs=recipe["n_envs"], seed=args.seed)
    eval_env = make_vec_env(recipe["env"], n_envs=1, seed=args.seed + 10_000)
    model = {"ppo": PPO, "dqn": DQN, "sac": SAC}[recipe["algo"]](
        "MlpPolicy", env, seed=args.seed, device="cpu", verbose=0, **kwargs)

    class TimedEval(EvalCallback):
        """EvalCallback that keeps the wall and CPU seconds its evaluations take, and the solve point."""

        def __init__(self, *a, **k) -> None:
            super().__init__(*a, **k)
            self.eval_wall = self.eval_cpu = 0.0
            self.returns: list[float] = []
            self.solved: tuple[int, float, float] | None = None

        def _on_step(self) -> bool:
            if not (self.eval_freq > 0 and self.n_calls % self.eval_freq == 0):
                return super()._on_step()
            wall, cpu = time.perf_counter(), time.process_time()
            go_on = super()._on_step()
            self.eval_wall += time.perf_counter() - wall
            self.eval_cpu += time.process_time() - cpu
            self.returns.append(float(self.last_mean_reward))
            if self.solved is None and self.last_mean_reward >= args.target:
                self.solved = (self.num_timesteps, time.perf_counter() - started - self.eval_wall,
                               time.process_time() - started_cpu - self.eval_cpu)
            return go_on

    callback = TimedEval(
        eval_env, n_eval_episodes=args.episodes, eval_freq=max(args.eval_every // recipe["n_envs"], 1),
        callback_on_new_best=StopTrainingOnRewardThreshold(reward_threshold=args.target, verbose=0),
        deterministic=True, verbose=0)
    started, started_cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=recipe["n_timesteps"], callback=callback)
    wall = time.perf_counter() - started
    if callback.solved is not None:
        steps, train, cpu = callback.solved
    else:
        steps, train, cpu = model.num_timesteps, wall - callback.eval_wall, time.process_time() - started_cpu - callback.eval_cpu
    print(json.dumps({
        "solved": callback.solved is not None, "steps": steps, "train_seconds": train, "train_cpu_seconds": cpu,
        "wall_seconds": wall, "budget": recipe["n_timesteps"],
        "best_eval": max(callback.returns, default=None), "last_eval": callback.returns[-1] if callback.returns else None,
    }))


if __name__ == "__main__":
    main()
