"""The TorchRL parts one run trains with, built from its config: envs, algorithm, collector
(engine/run/collectors.py, for every backend), evaluator and metric loggers, and how the evaluation env
plays the current policy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tensordict import TensorDictBase
from torch.nn.parameter import is_lazy
from torchrl.collectors import Evaluator
from torchrl.envs import EnvBase

from tui_rl.config import ConfigError, RunConfig
from tui_rl.engine.algorithms.base import Algorithm
from tui_rl.engine.run.collectors import Collection
from tui_rl.engine.run.group_evaluation import evaluate_groups
from tui_rl.engine.run.worker_stats import ReplayTally
from tui_rl.engine.run.metric_loggers import MetricLoggers
from tui_rl.engine.protocol import Evaluated
from tui_rl.engine.runs.folder import REPLAY_DIR
from tui_rl.engine.policy.playback import exploration_type, play_episode

#: steps the evaluation collector takes between checks for finished episodes
EVAL_POLL_FRAMES = 100


@dataclass
class RunParts:
    device: torch.device
    loggers: MetricLoggers
    env: EnvBase
    eval_env: EnvBase
    algorithm: Algorithm
    collector: Collection
    #: TorchRL's Evaluator; None in a multi-agent env, whose copies play their episodes together
    evaluator: Evaluator | None
    replay_tally: ReplayTally = field(default_factory=ReplayTally)

    @classmethod
    def build(cls, config: RunConfig, run_dir: Path) -> RunParts:
        from tui_rl.engine.algorithms import build_algorithm
        from tui_rl.engine.envs.making import make_env

        parts: dict[str, Any] = {"device": resolve_device(config.device)}
        try:
            parts["loggers"] = MetricLoggers(run_dir, config.logging)
            parts["env"] = make_env(config)
            parts["eval_env"] = make_env(config)
            algorithm = parts["algorithm"] = build_algorithm(config, parts["env"], parts["device"], run_dir / REPLAY_DIR)
            if config.compile:  # in place: the state dict keeps its keys, so checkpoints do not change
                algorithm.loss_module.compile()
            parts["collector"] = Collection(config, parts["env"], algorithm.collector_policy, parts["device"])
            parts["evaluator"] = None if algorithm.config.algorithm.multi_agent else Evaluator(
                parts["eval_env"],
                algorithm.eval_policy,
                num_trajectories=config.eval.episodes,
                exploration_type=exploration_type(config.eval.deterministic),
                frames_per_batch=-(-EVAL_POLL_FRAMES // config.env.num_envs) * config.env.num_envs,
                collector_kwargs={"traj_format": "cat", "auto_register_policy_transforms": False},
                dump_video=False,
            )
        except BaseException:
            close_parts(parts, on_error=lambda: None)  # the build's own error is the one to report
            raise
        return cls(**parts)

    def sync_eval_env(self) -> None:
        """Give the evaluation env the training env's transform state (ObservationNorm, VecNorm).
        A buffer that one of them has not filled yet (CatFrames' frame history is empty until its
        env first runs) stays as it is: it holds episode state, which evaluation starts afresh."""
        own = self.eval_env.transform.state_dict(keep_vars=True)
        state = {
            key: value
            for key, value in self.env.transform.state_dict().items()
            if not (unfilled(value) or unfilled(own.get(key)))
        }
        self.eval_env.transform.load_state_dict(state, strict=False)

    def evaluate(self, frames: int, episodes: int) -> Evaluated:
        """Play ``episodes`` evaluation episodes with TorchRL's Evaluator."""
        self.sync_eval_env()
        if self.evaluator is None:
            return evaluate_groups(self.eval_env, self.algorithm.eval_policy, episodes, self.algorithm.config.eval.deterministic)
        result = self.evaluator.evaluate(step=frames)
        std = float(result.get("eval/reward_std", 0.0))
        return Evaluated(
            mean_return=float(result["eval/reward"]),
            std_return=std if math.isfinite(std) else 0.0,  # one episode: no spread
            episodes=int(result.get("eval/num_episodes", episodes)),
            mean_length=float(result.get("eval/episode_length", 0.0)),
        )

    def eval_episode(self, config: RunConfig) -> TensorDictBase:
        self.sync_eval_env()
        return play_episode(self.eval_env, self.algorithm.eval_policy, deterministic=config.eval.deterministic)

    def scale_stats(self) -> dict[str, float]:
        """The workers panel's figures, as metric values: the collector's and the replay buffer's."""
        values = self.collector.stats()
        if self.algorithm.replay_buffer is not None:
            values |= self.replay_tally.values_now(self.algorithm.replay_buffer, self.algorithm.config)
        return values

    def close(self, on_error: Callable[[], None]) -> None:
        close_parts(vars(self), on_error)


def close_parts(parts: dict[str, Any], on_error: Callable[[], None]) -> None:
    """Shut down whatever of a run's parts exist (also after a failed build); ``on_error`` is
    called in the ``except`` block of a shutdown that raised, and the others still close."""
    for name in ("evaluator", "collector"):
        if parts.get(name) is not None:
            try:
                parts[name].shutdown()
            except Exception:
                on_error()
    for name in ("env", "eval_env"):
        env = parts.get(name)
        if env is not None and not env.is_closed:
            env.close()
    if "loggers" in parts:
        parts["loggers"].close()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for, but torch sees no CUDA device; use cpu or auto")
    return torch.device(name)


def unfilled(value: Any) -> bool:
    """Whether a state entry is a buffer still waiting for its first data (lazy or empty)."""
    return isinstance(value, torch.Tensor) and (is_lazy(value) or value.numel() == 0)
