"""Pydantic models of a whole run.

Every field has a description and bounds, so the CLI can name what is wrong and the app can build
forms from the model. Fields that the trainer can change while it runs carry ``live=True`` in their
``json_schema_extra``; :func:`live_fields` lists them as dotted paths (``optim.lr``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

LIVE = {"live": True}


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, so typos in presets are caught.

    A field may default to None only if None is its default: TOML has no null, so a saved
    config omits None values and loading gives the default back.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EnvConfig(Section):
    id: str = Field("CartPole-v1", min_length=1, description="Gymnasium environment id")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments passed to gymnasium.make"
    )
    num_envs: int = Field(
        1, ge=1, le=256, description="Parallel copies of the env (a synchronous vector env)"
    )
    seed: int = Field(0, ge=0, description="Seed for the env, torch and the replay buffer")
    max_episode_steps: int | None = Field(
        None, ge=1, description="Cut episodes after this many steps (None: the env's own limit)"
    )


class TransformConfig(Section):
    name: str = Field(..., description="A transform from the registry (tui-rl: engine/transforms)")
    params: dict[str, Any] = Field(default_factory=dict, description="Its keyword arguments")


class NetworkConfig(Section):
    hidden_sizes: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [64, 64],
        min_length=0,
        max_length=8,
        description="Width of each hidden layer of the policy and value networks",
    )
    activation: Literal["relu", "tanh", "elu", "gelu", "silu"] = Field(
        "relu", description="Activation between hidden layers"
    )


class DQNConfig(Section):
    name: Literal["dqn"] = "dqn"
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor", json_schema_extra=LIVE)
    updates_per_batch: int = Field(
        1, ge=1, le=1000, description="Gradient steps per collected batch", json_schema_extra=LIVE
    )
    eps_start: float = Field(1.0, ge=0, le=1, description="Initial epsilon of epsilon-greedy")
    eps_end: float = Field(
        0.05, ge=0, le=1, description="Final epsilon of epsilon-greedy", json_schema_extra=LIVE
    )
    eps_decay_frames: int = Field(
        10_000, ge=1, description="Frames over which epsilon anneals from start to end"
    )
    target_update: Literal["soft", "hard"] = Field(
        "soft", description="Soft (Polyak, tau) or hard (copy every N updates) target updates"
    )
    tau: float = Field(
        0.005, gt=0, le=1, description="Soft target-update rate", json_schema_extra=LIVE
    )
    hard_update_period: int = Field(
        500, ge=1, description="Updates between hard target copies", json_schema_extra=LIVE
    )
    double_dqn: bool = Field(True, description="Double DQN targets")
    loss_function: Literal["l2", "smooth_l1"] = Field("l2", description="TD error loss")


class DDPGConfig(Section):
    name: Literal["ddpg"] = "ddpg"
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor", json_schema_extra=LIVE)
    updates_per_batch: int = Field(
        1, ge=1, le=1000, description="Gradient steps per collected batch", json_schema_extra=LIVE
    )
    tau: float = Field(
        0.005, gt=0, le=1, description="Soft target-update rate", json_schema_extra=LIVE
    )
    noise: Literal["gaussian", "ou"] = Field(
        "gaussian", description="Exploration noise: additive Gaussian or Ornstein-Uhlenbeck"
    )
    noise_sigma: float = Field(
        0.1, ge=0, le=10, description="Exploration noise scale", json_schema_extra=LIVE
    )


class SACConfig(Section):
    name: Literal["sac"] = "sac"
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor", json_schema_extra=LIVE)
    updates_per_batch: int = Field(
        1, ge=1, le=1000, description="Gradient steps per collected batch", json_schema_extra=LIVE
    )
    tau: float = Field(
        0.005, gt=0, le=1, description="Soft target-update rate", json_schema_extra=LIVE
    )
    alpha_init: float = Field(1.0, gt=0, description="Initial entropy temperature")
    fixed_alpha: bool = Field(False, description="Keep alpha fixed instead of learning it")
    target_entropy: float | Literal["auto"] = Field(
        "auto", description="Target entropy for the learned alpha ('auto': -action dims)"
    )


class PPOConfig(Section):
    name: Literal["ppo"] = "ppo"
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor", json_schema_extra=LIVE)
    gae_lambda: float = Field(
        0.95, ge=0, le=1, description="GAE lambda", json_schema_extra=LIVE
    )
    clip_epsilon: float = Field(
        0.2, gt=0, le=1, description="PPO ratio clip", json_schema_extra=LIVE
    )
    entropy_coef: float = Field(
        0.0, ge=0, le=1, description="Entropy bonus coefficient", json_schema_extra=LIVE
    )
    critic_coef: float = Field(
        0.5, ge=0, le=10, description="Value loss coefficient", json_schema_extra=LIVE
    )
    epochs: int = Field(
        10, ge=1, le=100, description="Passes over each batch", json_schema_extra=LIVE
    )
    minibatch_size: int = Field(
        64, ge=1, description="Minibatch size within a batch", json_schema_extra=LIVE
    )
    normalize_advantage: bool = Field(True, description="Normalise advantages per minibatch")


class A2CConfig(Section):
    name: Literal["a2c"] = "a2c"
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor", json_schema_extra=LIVE)
    gae_lambda: float = Field(
        1.0, ge=0, le=1, description="GAE lambda", json_schema_extra=LIVE
    )
    entropy_coef: float = Field(
        0.01, ge=0, le=1, description="Entropy bonus coefficient", json_schema_extra=LIVE
    )
    critic_coef: float = Field(
        0.5, ge=0, le=10, description="Value loss coefficient", json_schema_extra=LIVE
    )


AlgorithmConfig = Annotated[
    Union[DQNConfig, DDPGConfig, SACConfig, PPOConfig, A2CConfig], Field(discriminator="name")
]
ALGORITHMS = ("dqn", "ddpg", "sac", "ppo", "a2c")
#: Which action spaces each algorithm can act in; the app offers only the ones that fit.
ALGORITHM_ACTION_KINDS: dict[str, tuple[str, ...]] = {
    "dqn": ("discrete",),
    "ddpg": ("continuous",),
    "sac": ("continuous",),
    "ppo": ("discrete", "continuous"),
    "a2c": ("discrete", "continuous"),
}


class CollectorConfig(Section):
    frames_per_batch: int = Field(
        256, ge=1, le=1_000_000, description="Env steps collected between updates"
    )
    total_frames: int = Field(
        100_000, ge=1, description="Env steps for the whole run (the frame budget)"
    )
    init_random_frames: int = Field(
        0, ge=0, description="Steps of random actions before the policy acts (off-policy only)"
    )


class ReplayBufferConfig(Section):
    size: int = Field(100_000, ge=1, description="Transitions kept in the replay buffer")
    batch_size: int = Field(
        128, ge=1, le=65_536, description="Transitions per gradient step", json_schema_extra=LIVE
    )
    prioritized: bool = Field(False, description="Prioritised experience replay")
    alpha: float = Field(0.6, ge=0, le=1, description="Priority exponent (prioritised only)")
    beta: float = Field(0.4, ge=0, le=1, description="Importance-sampling exponent")


class OptimConfig(Section):
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = Field("adam", description="Optimiser")
    lr: float = Field(
        1e-3, gt=0, le=1, description="Learning rate", json_schema_extra=LIVE
    )
    weight_decay: float = Field(0.0, ge=0, le=1, description="L2 weight decay")
    max_grad_norm: float = Field(
        10.0, ge=0, description="Clip gradients to this norm (0: no clipping)", json_schema_extra=LIVE
    )
    anneal_lr: bool = Field(False, description="Decay the learning rate linearly to zero")


class EvalConfig(Section):
    every_frames: int = Field(
        10_000, ge=1, description="Evaluate the policy every N frames", json_schema_extra=LIVE
    )
    episodes: int = Field(10, ge=1, le=1000, description="Episodes per evaluation")
    deterministic: bool = Field(True, description="Act greedily / with the mean during evaluation")
    target_return: float | None = Field(
        None, description="Stop early once the mean evaluation return reaches this"
    )


class CheckpointConfig(Section):
    every_frames: int = Field(
        20_000, ge=1, description="Write a checkpoint every N frames", json_schema_extra=LIVE
    )
    keep: int = Field(2, ge=1, le=100, description="Checkpoints kept on disk (oldest removed)")
    replay_buffer: bool = Field(
        True, description="Include the replay buffer in checkpoints when it fits"
    )


class LoggingConfig(Section):
    csv: bool = Field(True, description="CSV metrics (always readable by tui-rl)")
    tensorboard: bool = Field(False, description="Also write TensorBoard event files")
    wandb: bool = Field(False, description="Also log to Weights & Biases, offline")


class RunConfig(Section):
    description: str = Field("", description="One line saying what this preset is")
    env: EnvConfig = Field(default_factory=EnvConfig)
    transforms: list[TransformConfig] = Field(
        default_factory=list, description="TorchRL transforms, applied in order"
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    algorithm: AlgorithmConfig = Field(default_factory=DQNConfig)
    collector: CollectorConfig = Field(default_factory=CollectorConfig)
    replay_buffer: ReplayBufferConfig = Field(default_factory=ReplayBufferConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the networks train ('auto': cuda when available)"
    )


#: Algorithms that learn from fresh batches only: the replay buffer section does not apply to them.
ON_POLICY = ("ppo", "a2c")


def live_fields(config: RunConfig) -> dict[str, Any]:
    """Every live-tunable hyperparameter of ``config`` that applies to its algorithm, as
    ``{"section.field": value}``."""
    found: dict[str, Any] = {}
    for section_name in type(config).model_fields:
        section = getattr(config, section_name)
        if not isinstance(section, BaseModel):
            continue
        if section_name == "replay_buffer" and config.algorithm.name in ON_POLICY:
            continue
        for field_name, field in type(section).model_fields.items():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and extra.get("live"):
                found[f"{section_name}.{field_name}"] = getattr(section, field_name)
    return found
