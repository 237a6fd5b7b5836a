"""Pydantic models of a whole run.

Every field has a description and bounds, so the CLI can name what is wrong and the app can build
forms from the model. Fields that the trainer can change while it runs carry ``live=True`` in their
``json_schema_extra``; :func:`live_fields` lists them as dotted paths (``optim.lr``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, field_validator, model_validator

from tui_rl.config.algorithms import ALGORITHMS, DQNConfig
from tui_rl.config.section import LIVE, FieldValueError, Section

#: how deep a keyword-argument value may nest (a list of lists of ...): far beyond any real use
MAX_NESTING = 8
#: seeds go to numpy, which takes 32-bit ones
MAX_SEED = 2**32 - 1
#: the replay storage is allocated whole, in memory: 10^8 transitions of even CartPole's 4-number
#: observations take about 6 GB. A bigger buffer is refused here, on any machine; one that does not
#: fit this machine's memory is refused by the preflight check (engine/run/preflight.py) before a run starts
MAX_REPLAY_SIZE = 100_000_000
#: transforms in a stack (Atari's standard one has 9): the checks build the env once per prefix of
#: the stack to name the one that does not fit, so their cost grows with its square
MAX_TRANSFORMS = 16
#: a frame budget beyond any run (Atari's longest are 10^10 frames): a bigger one is a typo
MAX_TOTAL_FRAMES = 10**12


def keyword_value_problem(value: Any, depth: int) -> str | None:
    """Why a keyword argument (env kwargs, transform params) cannot be stored in TOML: only text,
    booleans, finite numbers, and lists or tables of them can; None when it can."""
    if depth < 0:
        return f"nested more than {MAX_NESTING} levels deep"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"
    if value is None:
        return "TOML has no null: leave the key out instead"
    if isinstance(value, (list, tuple)):
        return next(filter(None, (keyword_value_problem(v, depth - 1) for v in value)), None)
    if isinstance(value, dict):
        return next(filter(None, (keyword_value_problem(v, depth - 1) for v in value.values())), None)
    if not isinstance(value, (str, bool, int, float)):
        return f"must be text, a number, true/false or a list of them, not {type(value).__name__}"
    return None


#: most env copies one run steps: the torch backend steps thousands as one tensor (Gymnasium's
#: sync vector env takes at most 256, checked where the backend is picked)
MAX_TORCH_ENVS = 4096


class EnvConfig(Section):
    id: str = Field(
        "CartPole-v1", min_length=1, max_length=1000,
        description="Gymnasium environment id, or your own env: path/to/file.py:Name or package.module:Name "
        "(a gymnasium.Env subclass or a function returning one; the file runs as python file.py would)",
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments passed to gymnasium.make (or to your env)"
    )
    imports: list[Annotated[str, Field(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$", max_length=200)]] = Field(
        default_factory=list, max_length=16,
        description="Modules imported before the env is made (packages that register their env ids on import)",
    )
    num_envs: int = Field(
        1,
        ge=1,
        le=MAX_TORCH_ENVS,
        description="Parallel copies of the env (a synchronous vector env; above 256, the torch backend only)",
    )
    backend: Literal["auto", "gymnasium", "torch", "envpool"] = Field(
        "auto",
        description="gymnasium: the Gymnasium env; torch: tui-rl's batched tensor version (classic control); "
        "envpool: EnvPool's C++ threads (Atari with its preprocessing inside, classic control, MuJoCo); "
        "auto: torch when the env has one that takes the kwargs, else envpool for Atari when installed and it "
        "serves the kwargs and stack, else gymnasium",
    )
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description="Seed for the env, torch and the replay buffer"
    )
    max_episode_steps: int | None = Field(
        None, ge=1, description="Cut episodes after this many steps (None: the env's own limit)"
    )


class TransformConfig(Section):
    name: str = Field(..., description="A transform from the registry (tui-rl: engine/transforms)")
    params: dict[str, Any] = Field(default_factory=dict, description="Its keyword arguments")


class NetworkConfig(Section):
    """Encoder -> optional memory core -> heads (engine/networks builds them; config/network_fit
    checks them against the observation)."""

    encoder: Literal["mlp", "convnet"] = Field(
        "mlp", description="What reads the observation: mlp (vectors) or convnet (images [C, H, W])"
    )
    conv_channels: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        default_factory=lambda: [32, 64, 64], min_length=1, max_length=8,
        description="ConvNet: output channels of each conv layer (Nature DQN: 32, 64, 64)",
    )
    conv_kernels: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=lambda: [8, 4, 3], min_length=1, max_length=8,
        description="ConvNet: kernel size of each conv layer (Nature DQN: 8, 4, 3)",
    )
    conv_strides: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=lambda: [4, 2, 1], min_length=1, max_length=8,
        description="ConvNet: stride of each conv layer (Nature DQN: 4, 2, 1)",
    )
    observation_keys: list[str] = Field(
        default_factory=list, max_length=64,
        description="Dict observations: the keys the networks read, nested ones dotted (empty: all of them)",
    )
    recurrent: Literal["none", "lstm", "gru"] = Field(
        "none", description="Memory core after the encoder: none, lstm or gru"
    )
    recurrent_size: int = Field(
        128, ge=1, le=4096, description="Width of the LSTM / GRU hidden state"
    )
    hidden_sizes: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [64, 64],
        min_length=0,
        max_length=8,
        description="Hidden layers of each head (Q-values, actor, critic) after the encoder",
    )
    activation: Literal["relu", "tanh", "elu", "gelu", "silu"] = Field(
        "relu", description="Activation between hidden layers"
    )

    @property
    def has_memory(self) -> bool:
        return self.recurrent != "none"

    @field_validator("recurrent", mode="before")
    @classmethod
    def _none_is_no_memory(cls, value: Any) -> Any:
        # `--set network.recurrent=none` reads as None (edit.parse_value): the same choice
        return "none" if value is None else value

    @model_validator(mode="after")
    def _one_kernel_and_stride_per_layer(self) -> NetworkConfig:
        layers = len(self.conv_channels)
        for name in ("conv_kernels", "conv_strides"):
            count = len(getattr(self, name))
            if count != layers:
                raise FieldValueError(
                    name, f"has {count} entries; conv_channels has {layers} layers: give one per layer"
                )
        return self


AlgorithmConfig = Annotated[Union[tuple(ALGORITHMS.values())], Field(discriminator="name")]


class CollectorConfig(Section):
    frames_per_batch: int = Field(
        256, ge=1, le=1_000_000, description="Env steps collected between updates"
    )
    total_frames: int = Field(
        100_000, ge=1, le=MAX_TOTAL_FRAMES, description="Env steps for the whole run (the frame budget)"
    )
    init_random_frames: int = Field(
        0, ge=0, description="Steps of random actions before the policy acts (off-policy only)"
    )
    backend: Literal["single", "processes", "ray"] = Field(
        "single",
        description="Who collects: this process, worker processes, or Ray actors (extra `ray`)",
    )
    workers: int = Field(
        1, ge=1, le=256, description="Collector workers (processes or Ray actors), each with its envs"
    )
    sync: bool = Field(
        True, description="Wait for every worker each batch (false: take batches as they come)"
    )
    ray_address: str = Field(
        "",
        description="Ray cluster to join: '' starts a local one, 'auto' finds a running one, or host:port / ray://host:port",
    )

    @model_validator(mode="after")
    def _workers_fit_backend(self) -> CollectorConfig:
        if self.backend == "single" and self.workers > 1:
            raise FieldValueError(
                "workers", "the single backend collects in the trainer itself; use processes or ray for more workers"
            )
        if self.sync and self.frames_per_batch % self.workers:
            raise FieldValueError(
                "frames_per_batch",
                f"{self.frames_per_batch} frames do not split evenly over {self.workers} workers in sync mode",
            )
        address = self.ray_address.strip()
        if address not in ("", "auto") and ray_host_port(address) is None:
            raise FieldValueError("ray_address", f"{address!r} is not 'auto', host:port or ray://host:port")
        return self


def ray_host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a Ray address ``host:port`` or ``ray://host:port``; None when malformed."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


class ReplayBufferConfig(Section):
    size: int = Field(
        100_000, ge=1, le=MAX_REPLAY_SIZE, description="Transitions kept in the replay buffer"
    )
    batch_size: int = Field(
        128, ge=1, le=65_536, description="Transitions per gradient step", json_schema_extra=LIVE
    )
    storage: Literal["tensor", "memmap", "list"] = Field(
        "tensor",
        description="Where transitions live: preallocated tensors on the training device, files in the "
        "run folder (memmap: disk, not RAM, for large image buffers), or a list",
    )
    sampler: Literal["random", "prioritized", "slice"] = Field(
        "random",
        description="random transitions, prioritized (by TD error), or slice: sequences of slice_len "
        "steps (recurrent DQN learns through time on them)",
    )
    slice_len: int = Field(
        8, ge=2, le=1000, description="Steps per sampled sequence (slice sampler only)"
    )
    alpha: float = Field(0.6, ge=0, le=1, description="Priority exponent (prioritised only)")
    beta: float = Field(0.4, ge=0, le=1, description="Importance-sampling exponent")

    @model_validator(mode="after")
    def _slices_fill_a_batch(self) -> ReplayBufferConfig:
        if self.sampler == "slice" and self.batch_size % self.slice_len:
            raise FieldValueError(
                "slice_len",
                f"must divide batch_size ({self.batch_size}): a batch is whole slices of "
                f"slice_len steps",
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _prioritized_is_a_sampler(cls, data: Any) -> Any:
        # Older presets and run folders say `prioritized = true / false`; it became a sampler choice.
        if isinstance(data, dict) and "prioritized" in data:
            data = dict(data)
            flag = data.pop("prioritized")
            if not isinstance(flag, bool):
                raise FieldValueError("prioritized", f"expected true or false, not {flag!r} (now: sampler)")
            if flag and data.get("sampler", "prioritized") != "prioritized":
                raise FieldValueError("sampler", f"prioritized = true contradicts sampler = {data['sampler']!r}")
            if flag:
                data["sampler"] = "prioritized"
        return data


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
    """CSV metrics are always written (they are the run's history); these add other loggers."""

    tensorboard: bool = Field(False, description="Also write TensorBoard event files")
    wandb: bool = Field(False, description="Also log to Weights & Biases, offline")

    @model_validator(mode="before")
    @classmethod
    def _drop_retired_csv(cls, data: Any) -> Any:
        # Older presets and run folders say `csv = true`; CSV is always on, so the key is dropped.
        if isinstance(data, dict) and "csv" in data:
            data = {k: v for k, v in data.items() if k != "csv"}
        return data


class AlertsConfig(Section):
    """Health alerts: each is an event (a toast and a bell in the app) naming the metric, the frame
    and what to try. NaN / inf always end the run; these watch for slower trouble."""

    pause: bool = Field(False, description="Pause the run when an alert fires")
    entropy_collapse: float = Field(
        0.05, ge=0, le=1, description="Alert when entropy falls below this fraction of its first value (0: off)"
    )
    divergence: float = Field(
        100.0, ge=0, description="Alert when a loss grows past this many times its early level (0: off)"
    )
    no_progress_evals: int = Field(
        0, ge=0, description="Alert after this many evaluations without a new best return (0: off)"
    )


class RunConfig(Section):
    description: str = Field("", description="One line saying what this preset is")
    env: EnvConfig = Field(default_factory=EnvConfig)
    transforms: list[TransformConfig] = Field(
        default_factory=list, max_length=MAX_TRANSFORMS, description="TorchRL transforms, applied in order"
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    algorithm: AlgorithmConfig = Field(default_factory=DQNConfig)
    collector: CollectorConfig = Field(default_factory=CollectorConfig)
    replay_buffer: ReplayBufferConfig = Field(default_factory=ReplayBufferConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the networks train ('auto': cuda when available)"
    )
    compile: bool = Field(
        False, description="torch.compile the policy and the loss (slow to start, faster after)"
    )

    @model_validator(mode="after")
    def _memory_fits_the_algorithm(self) -> RunConfig:
        if self.network.has_memory and not self.algorithm.supports_memory:
            fitting = ", ".join(name for name, cls in ALGORITHMS.items() if cls.supports_memory)
            raise FieldValueError(
                "network.recurrent",
                f"{self.algorithm.name} takes no memory core: choose none, or an algorithm that "
                f"does: {fitting}",
            )
        return self

    @model_validator(mode="after")
    def _keyword_args_are_storable(self) -> RunConfig:
        # Checked here, not in their sections: a form builds a TransformConfig on its own, then
        # sets it into the config through edit(), whose ConfigError it shows.
        free_form = {"env.kwargs": self.env.kwargs}
        free_form.update({f"transforms.{i}.params": t.params for i, t in enumerate(self.transforms)})
        for path, values in free_form.items():
            for key, value in values.items():
                problem = keyword_value_problem(value, MAX_NESTING)
                if problem:
                    raise FieldValueError(f"{path}.{key}", problem)
        return self


def live_fields(config: RunConfig) -> dict[str, Any]:
    """Every live-tunable hyperparameter of ``config`` that applies to its algorithm, as
    ``{"section.field": value}``."""
    found: dict[str, Any] = {}
    for section_name in type(config).model_fields:
        section = getattr(config, section_name)
        if not isinstance(section, BaseModel):
            continue
        if section_name == "replay_buffer" and config.algorithm.on_policy:
            continue
        for field_name, field in type(section).model_fields.items():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and extra.get("live"):
                found[f"{section_name}.{field_name}"] = getattr(section, field_name)
    return found
