"""The algorithm registry: every fact about an algorithm that is not TorchRL code.

Each algorithm is one config section here: its fields (``json_schema_extra=LIVE`` marks the
live-tunable ones) and, as class variables, its title, the action spaces it acts in, whether it
learns on-policy, which fields are its exploration settings, what it needs from the env, the
metrics its update logs (config/metrics.py names them; the charts, panels and metric files know
no others) and its default search space (config/search_spaces.py), if it has one.
Everything else that lists algorithms (the config union, the CLI, the app's picker and forms, the
engine's builders) derives from :data:`ALGORITHMS`. Adding an algorithm is one section here plus
its engine file. Imports neither torch nor textual.

A field marked live must reach the TorchRL object it tunes: the engine reads it from the config at
each update, or pushes it there through ``Algorithm.live_settings`` (engine/algorithms/base.py).
tests/test_live_fields.py observes the effect of each one, and fails for a live field it cannot.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from tui_rl.config.metrics import (
    ALPHA,
    ENTROPY,
    EPSILON,
    LOSS_ACTOR,
    LOSS_ALPHA,
    LOSS_CRITIC,
    LOSS_ENTROPY,
    LOSS_OBJECTIVE,
    LOSS_QVALUE,
    LOSS_VALUE,
    Metric,
    RUN_METRICS,
)
from tui_rl.config.search_spaces import (
    A2C_SPACE,
    DDPG_SPACE,
    DQN_SPACE,
    PPO_SPACE,
    SAC_SPACE,
    TD3_SPACE,
    SearchSpace,
)
from tui_rl.config.section import LIVE, FieldValueError, Section

ActionKind = Literal["discrete", "continuous", "multi-discrete", "binary"]


class AlgorithmSection(Section):
    """What every algorithm section declares besides its fields."""

    #: the picker's label: short name, then the long one
    title: ClassVar[str]
    #: the action spaces it can act in
    action_kinds: ClassVar[tuple[ActionKind, ...]]
    #: on-policy algorithms learn from fresh batches only: no replay buffer, no random warm-up
    on_policy: ClassVar[bool]
    #: fields shown with the policy (how it explores), not with the other hyperparameters
    exploration_fields: ClassVar[tuple[str, ...]] = ()
    #: whether its networks may have a memory core (``network.recurrent``): DRQN-style sequences
    #: for DQN, stored recurrent states for the actor-critics
    supports_memory: ClassVar[bool] = False
    #: what its update returns to log (loss terms, exploration figures), besides what every run logs
    #: (:data:`RUN_METRICS`)
    metrics: ClassVar[tuple[Metric, ...]]
    #: what ``tui-rl search`` varies without ``--param``; None: nothing by default
    search_space: ClassVar[SearchSpace | None] = None
    #: it trains groups of agents (a multi-agent env's groups) instead of one agent
    multi_agent: ClassVar[bool] = False

    #: the discriminator; each algorithm narrows it to its own Literal (declared here to come first)
    name: str
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor", json_schema_extra=LIVE)

    @classmethod
    def algorithm_name(cls) -> str:
        return cls.model_fields["name"].default

    def needs_init_tracker(self) -> bool:
        """Whether its policy reads the env's ``is_init`` flag (TorchRL's InitTracker)."""
        return False


class OffPolicySection(AlgorithmSection):
    on_policy: ClassVar[bool] = False

    updates_per_batch: int = Field(
        1, ge=1, le=1000, description="Gradient steps per collected batch", json_schema_extra=LIVE
    )
    tau: float = Field(
        0.005, gt=0, le=1, description="Soft target-update rate", json_schema_extra=LIVE
    )


class OnPolicySection(AlgorithmSection):
    on_policy: ClassVar[bool] = True
    supports_memory: ClassVar[bool] = True
    #: MultiDiscrete and MultiBinary actions: one categorical or Bernoulli per dimension
    action_kinds: ClassVar[tuple[ActionKind, ...]] = ("discrete", "continuous", "multi-discrete", "binary")
    exploration_fields: ClassVar[tuple[str, ...]] = ("entropy_coef",)
    metrics: ClassVar[tuple[Metric, ...]] = (
        LOSS_OBJECTIVE, LOSS_CRITIC, LOSS_ENTROPY, ENTROPY,
    )

    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda", json_schema_extra=LIVE)
    entropy_coef: float = Field(
        0.0, ge=0, le=1, description="Entropy bonus coefficient", json_schema_extra=LIVE
    )
    critic_coef: float = Field(
        0.5, ge=0, le=10, description="Value loss coefficient", json_schema_extra=LIVE
    )


class DQNConfig(OffPolicySection):
    title: ClassVar[str] = "DQN   Deep Q-Network"
    action_kinds: ClassVar[tuple[ActionKind, ...]] = ("discrete",)
    exploration_fields: ClassVar[tuple[str, ...]] = ("eps_start", "eps_end", "eps_decay_frames")
    supports_memory: ClassVar[bool] = True
    metrics: ClassVar[tuple[Metric, ...]] = (LOSS_QVALUE, EPSILON)
    search_space: ClassVar[SearchSpace | None] = DQN_SPACE

    name: Literal["dqn"] = "dqn"
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
    hard_update_period: int = Field(
        500, ge=1, description="Updates between hard target copies", json_schema_extra=LIVE
    )
    double_dqn: bool = Field(True, description="Double DQN targets")
    loss_function: Literal["l2", "smooth_l1"] = Field("l2", description="TD error loss")

    @model_validator(mode="after")
    def _epsilon_anneals_down(self) -> DQNConfig:
        if self.eps_start < self.eps_end:
            raise FieldValueError("eps_start", f"must be at least eps_end ({self.eps_end:g}); epsilon anneals down")
        return self


class DDPGConfig(OffPolicySection):
    title: ClassVar[str] = "DDPG  Deep Deterministic PG"
    action_kinds: ClassVar[tuple[ActionKind, ...]] = ("continuous",)
    exploration_fields: ClassVar[tuple[str, ...]] = ("noise", "noise_sigma")
    metrics: ClassVar[tuple[Metric, ...]] = (LOSS_ACTOR, LOSS_VALUE)
    search_space: ClassVar[SearchSpace | None] = DDPG_SPACE

    name: Literal["ddpg"] = "ddpg"
    noise: Literal["gaussian", "ou"] = Field(
        "gaussian", description="Exploration noise: additive Gaussian or Ornstein-Uhlenbeck"
    )
    noise_sigma: float = Field(
        0.1, ge=0, le=10, description="Exploration noise scale", json_schema_extra=LIVE
    )

    def needs_init_tracker(self) -> bool:
        # Ornstein-Uhlenbeck noise restarts with each episode, which it reads from InitTracker.
        return self.noise == "ou"


class SACConfig(OffPolicySection):
    title: ClassVar[str] = "SAC   Soft Actor-Critic"
    action_kinds: ClassVar[tuple[ActionKind, ...]] = ("continuous",)
    exploration_fields: ClassVar[tuple[str, ...]] = ("alpha_init", "fixed_alpha", "target_entropy")
    metrics: ClassVar[tuple[Metric, ...]] = (
        LOSS_ACTOR, LOSS_QVALUE, LOSS_ALPHA, ENTROPY, ALPHA,
    )
    search_space: ClassVar[SearchSpace | None] = SAC_SPACE

    name: Literal["sac"] = "sac"
    alpha_init: float = Field(1.0, gt=0, description="Initial entropy temperature")
    fixed_alpha: bool = Field(False, description="Keep alpha fixed instead of learning it")
    target_entropy: float | Literal["auto"] = Field(
        "auto", description="Target entropy for the learned alpha ('auto': -action dims)"
    )


class DiscreteSACConfig(OffPolicySection):
    """SAC for discrete actions (Christodoulou, 2019): the policy's and the critics' expectations
    are taken over every action instead of sampled."""

    title: ClassVar[str] = "SAC-D SAC for discrete actions"
    action_kinds: ClassVar[tuple[ActionKind, ...]] = ("discrete",)
    exploration_fields: ClassVar[tuple[str, ...]] = ("alpha_init", "fixed_alpha", "target_entropy_weight")
    metrics: ClassVar[tuple[Metric, ...]] = (
        LOSS_ACTOR, LOSS_QVALUE, LOSS_ALPHA, ENTROPY, ALPHA,
    )
    search_space: ClassVar[SearchSpace | None] = None

    name: Literal["sac-discrete"] = "sac-discrete"
    alpha_init: float = Field(1.0, gt=0, description="Initial entropy temperature")
    fixed_alpha: bool = Field(False, description="Keep alpha fixed instead of learning it")
    target_entropy_weight: float = Field(
        0.98, gt=0, le=1, description="Target entropy for the learned alpha, as a share of the most (log n actions)"
    )


class TD3Config(DDPGConfig):
    """DDPG's actor and exploration noise, with TD3's twin critics, target smoothing and delayed actor."""

    title: ClassVar[str] = "TD3   Twin Delayed DDPG"
    exploration_fields: ClassVar[tuple[str, ...]] = ("noise", "noise_sigma")
    metrics: ClassVar[tuple[Metric, ...]] = (LOSS_ACTOR, LOSS_QVALUE)
    search_space: ClassVar[SearchSpace | None] = TD3_SPACE

    name: Literal["td3"] = "td3"
    policy_delay: int = Field(
        2, ge=1, le=100, description="Critic steps per actor and target update", json_schema_extra=LIVE
    )
    target_noise: float = Field(
        0.2, ge=0, le=10, description="Std of the noise smoothing target actions, relative to the action range",
        json_schema_extra=LIVE,
    )
    noise_clip: float = Field(
        0.5, ge=0, le=10, description="Clip of that noise, relative to the action range", json_schema_extra=LIVE
    )


class PPOConfig(OnPolicySection):
    title: ClassVar[str] = "PPO   Proximal Policy Opt."
    search_space: ClassVar[SearchSpace | None] = PPO_SPACE

    name: Literal["ppo"] = "ppo"
    clip_epsilon: float = Field(
        0.2, gt=0, le=1, description="PPO ratio clip", json_schema_extra=LIVE
    )
    epochs: int = Field(
        10, ge=1, le=100, description="Passes over each batch", json_schema_extra=LIVE
    )
    minibatch_size: int = Field(
        64, ge=1, description="Minibatch size within a batch", json_schema_extra=LIVE
    )
    normalize_advantage: bool = Field(True, description="Normalise advantages per minibatch")


class A2CConfig(OnPolicySection):
    title: ClassVar[str] = "A2C   Advantage Actor-Critic"
    search_space: ClassVar[SearchSpace | None] = A2C_SPACE

    name: Literal["a2c"] = "a2c"
    gae_lambda: float = Field(1.0, ge=0, le=1, description="GAE lambda", json_schema_extra=LIVE)
    entropy_coef: float = Field(
        0.01, ge=0, le=1, description="Entropy bonus coefficient", json_schema_extra=LIVE
    )

# -- multi-agent: groups of agents (engine/envs/multi_agent.py), as TorchRL's multi-agent examples
# train them. Defaults are BenchMARL's (facebookresearch/BenchMARL, benchmarl/conf/algorithm/
# mappo.yaml, ippo.yaml, qmix.yaml, vdn.yaml; its base_experiment.yaml for the shared ones).


class MultiAgentPPOSection(OnPolicySection):
    """PPO for each group of agents (TorchRL's ClipPPOLoss per group, MultiAgentMLP networks)."""

    multi_agent: ClassVar[bool] = True
    supports_memory: ClassVar[bool] = False
    action_kinds: ClassVar[tuple[ActionKind, ...]] = ("discrete", "continuous")

    gae_lambda: float = Field(0.9, ge=0, le=1, description="GAE lambda", json_schema_extra=LIVE)
    critic_coef: float = Field(
        1.0, ge=0, le=10, description="Value loss coefficient", json_schema_extra=LIVE
    )
    clip_epsilon: float = Field(0.2, gt=0, le=1, description="PPO ratio clip", json_schema_extra=LIVE)
    epochs: int = Field(3, ge=1, le=100, description="Passes over each batch", json_schema_extra=LIVE)
    minibatch_size: int = Field(
        400, ge=1, description="Minibatch size (env steps) within a batch", json_schema_extra=LIVE
    )
    normalize_advantage: bool = Field(False, description="Normalise advantages per minibatch")
    share_params: bool = Field(
        True, description="The agents of a group share one actor (and one critic)"
    )
    centralised: bool = Field(
        True, description="The critic reads every agent's observation of the group (MAPPO) or each its own (IPPO)"
    )


class MAPPOConfig(MultiAgentPPOSection):
    title: ClassVar[str] = "MAPPO Multi-agent PPO (central critic)"

    name: Literal["mappo"] = "mappo"


class IPPOConfig(MultiAgentPPOSection):
    title: ClassVar[str] = "IPPO  Independent PPO"

    name: Literal["ippo"] = "ippo"
    centralised: bool = Field(
        False, description="The critic reads every agent's observation of the group (MAPPO) or each its own (IPPO)"
    )


class ValueMixingSection(OffPolicySection):
    """Per-agent Q-networks whose chosen values a mixer joins into the group's (TorchRL's QMixerLoss)."""

    multi_agent: ClassVar[bool] = True
    action_kinds: ClassVar[tuple[ActionKind, ...]] = ("discrete",)
    exploration_fields: ClassVar[tuple[str, ...]] = ("eps_start", "eps_end", "eps_decay_frames")
    metrics: ClassVar[tuple[Metric, ...]] = (LOSS_QVALUE, EPSILON)

    eps_start: float = Field(0.8, ge=0, le=1, description="Initial epsilon of epsilon-greedy")
    eps_end: float = Field(
        0.01, ge=0, le=1, description="Final epsilon of epsilon-greedy", json_schema_extra=LIVE
    )
    eps_decay_frames: int = Field(
        1_000_000, ge=1, description="Frames over which epsilon anneals from start to end"
    )
    share_params: bool = Field(True, description="The agents of a group share one Q-network")

    @model_validator(mode="after")
    def _epsilon_anneals_down(self) -> ValueMixingSection:
        if self.eps_start < self.eps_end:
            raise FieldValueError("eps_start", f"must be at least eps_end ({self.eps_end:g}); epsilon anneals down")
        return self


class QMIXConfig(ValueMixingSection):
    title: ClassVar[str] = "QMIX  Monotonic value mixing"

    name: Literal["qmix"] = "qmix"
    mixing_embed_dim: int = Field(32, ge=1, le=1024, description="Width of the QMIX mixing network")


class VDNConfig(ValueMixingSection):
    title: ClassVar[str] = "VDN   Value decomposition (sum)"

    name: Literal["vdn"] = "vdn"


#: name -> section class, in the order the app lists them
ALGORITHMS: dict[str, type[AlgorithmSection]] = {
    cls.algorithm_name(): cls
    for cls in (
        DQNConfig, DDPGConfig, TD3Config, SACConfig, DiscreteSACConfig, PPOConfig, A2CConfig,
        MAPPOConfig, IPPOConfig, QMIXConfig, VDNConfig,
    )
}


def logged_metrics(name: str) -> tuple[Metric, ...]:
    """Every metric a run of algorithm ``name`` logs (per-worker figures aside)."""
    return RUN_METRICS + ALGORITHMS[name].metrics


#: every declared metric (per-worker figures aside), each once: what every run logs, then each
#: algorithm's in registry order
DECLARED_METRICS: tuple[Metric, ...] = tuple(
    dict.fromkeys(RUN_METRICS + tuple(m for cls in ALGORITHMS.values() for m in cls.metrics))
)


def fitting_algorithms(kind: str) -> list[str]:
    """The algorithms that can act in a ``kind`` (an :data:`ActionKind`) action space."""
    return [name for name, cls in ALGORITHMS.items() if kind in cls.action_kinds]


def agents_mismatch(name: str, env_id: str, multi_agent: bool) -> str | None:
    """Why ``name`` cannot train in ``env_id`` (a multi-agent env when ``multi_agent``): a
    single-agent algorithm takes no agent groups and a multi-agent one needs them; None when it fits."""
    if ALGORITHMS[name].multi_agent == multi_agent:
        return None
    fitting = ", ".join(n for n, cls in ALGORITHMS.items() if cls.multi_agent == multi_agent)
    if multi_agent:
        return (f"algorithm.name: {name} trains a single agent; {env_id} is a multi-agent env (groups of "
                f"agents): choose one of {fitting}")
    return (f"algorithm.name: {name} trains groups of agents; {env_id} is a single-agent env: "
            f"choose one of {fitting}")


def action_kind_mismatch(name: str, env_id: str, kind: str) -> str | None:
    """Why ``name`` cannot act in ``env_id``'s ``kind`` action space, or None when it can."""
    allowed = ALGORITHMS[name].action_kinds
    if kind in allowed:
        return None
    if not fitting_algorithms(kind):
        return (
            f"env.id: {env_id} has a {kind} action space, which no tui-rl algorithm takes yet "
            f"(they take {' or '.join(sorted({k for cls in ALGORITHMS.values() for k in cls.action_kinds}))} ones)"
        )
    return (
        f"algorithm.name: {name} needs a {' or '.join(allowed)} action space; {env_id} has a {kind} "
        f"one; choose one of {', '.join(fitting_algorithms(kind))}"
    )
