"""The TorchRL transforms a run can stack, with their parameters described for forms and validation.

No torch import at module level: the app reads :data:`TRANSFORMS` before its first paint. Only
:func:`build_transform` loads torchrl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from tui_rl.config.models import TransformConfig
from tui_rl.config.errors import ConfigError

ParamKind = Literal["int", "float", "bool", "str", "keys", "list"]


@dataclass(frozen=True)
class ParamSpec:
    """One keyword argument of a transform.

    ``keys`` is a list of tensordict keys (a nested key is itself a list: ``["next", "reward"]``);
    ``list`` is a number or a list of numbers (one per observation dimension). ``default`` is what
    a missing optional param takes, and what forms suggest for a required one.
    """

    name: str
    kind: ParamKind
    default: Any = None
    description: str = ""
    required: bool = False
    minimum: float | None = None


@dataclass(frozen=True)
class TransformSpec:
    name: str
    description: str
    params: list[ParamSpec]
    #: builds the transform from checked params; default: the torchrl.envs class called ``name``
    factory: Callable[[dict[str, Any]], Any] | None = None
    #: params consumed by :func:`prepare_transform` once the env is built, not by the constructor
    prepare_params: tuple[str, ...] = field(default=())


def _keys(name: str, default: list[str] | None, description: str) -> ParamSpec:
    return ParamSpec(name, "keys", default, description)


def _observation_norm(params: dict[str, Any]) -> Any:
    from torchrl.envs import ObservationNorm

    steps = params["init_stats_steps"]
    if steps == 0 and (params["loc"] is None or params["scale"] is None):
        raise ConfigError(
            "transforms: ObservationNorm needs loc and scale, or init_stats_steps > 0 "
            "to measure them from random steps"
        )
    # With measured stats the loc/scale are left empty: prepare_transform fills them in.
    loc = None if steps else _tensor(params["loc"])
    scale = None if steps else _tensor(params["scale"])
    return ObservationNorm(
        loc=loc, scale=scale, in_keys=params["in_keys"], standard_normal=params["standard_normal"]
    )


def _vec_norm(params: dict[str, Any]) -> Any:
    from torchrl.envs import VecNormV2

    # Statistics are shared across the copies of a vector env, so num_envs does not change them.
    return VecNormV2(reduce_batch_dims=True, **params)


def _tensor(value: float | list[float]) -> Any:
    import torch

    return torch.as_tensor(value, dtype=torch.float32)


TRANSFORMS: dict[str, TransformSpec] = {
    spec.name: spec
    for spec in [
        TransformSpec(
            "StepCounter",
            "Counts steps since the last reset; can truncate episodes after max_steps",
            [
                ParamSpec("max_steps", "int", None, "Truncate episodes after this many steps", minimum=1),
                ParamSpec("step_count_key", "str", "step_count", "Key the count is written to"),
            ],
        ),
        TransformSpec(
            "RewardSum",
            "Sums rewards over each episode (the episode return so far)",
            [
                _keys("in_keys", ["reward"], "Reward entries to sum"),
                _keys("out_keys", ["episode_reward"], "Where the running sums are written"),
            ],
        ),
        TransformSpec(
            "DoubleToFloat",
            "Casts float64 entries (observations of many Gymnasium envs) to float32",
            [_keys("in_keys", None, "Entries to cast (empty: every float64 entry)")],
        ),
        TransformSpec(
            "ObservationNorm",
            "Affine normalisation of observations, with fixed or measured loc and scale",
            [
                _keys("in_keys", ["observation"], "Entries to normalise"),
                ParamSpec("loc", "list", None, "Location: a number or one per dimension"),
                ParamSpec("scale", "list", None, "Scale: a number or one per dimension"),
                ParamSpec(
                    "standard_normal", "bool", True,
                    "Compute (obs - loc) / scale; otherwise obs * scale + loc",
                ),
                ParamSpec(
                    "init_stats_steps", "int", 0,
                    "Measure loc and scale from this many random steps when the env is built",
                    minimum=0,
                ),
            ],
            factory=_observation_norm,
            prepare_params=("init_stats_steps",),
        ),
        TransformSpec(
            "RewardScaling",
            "Affine reward transform: reward * scale + loc (standard_normal: (reward - loc) / scale)",
            [
                ParamSpec("loc", "float", 0.0, "Location"),
                ParamSpec("scale", "float", 1.0, "Scale"),
                ParamSpec("standard_normal", "bool", False, "Compute (reward - loc) / scale"),
            ],
        ),
        TransformSpec(
            "CatFrames",
            "Stacks the last N observations along a dimension (frame stacking)",
            [
                ParamSpec("N", "int", 4, "Number of frames to stack", required=True, minimum=1),
                ParamSpec("dim", "int", -1, "Dimension to concatenate along (negative)"),
                _keys("in_keys", ["observation"], "Entries to stack"),
            ],
        ),
        TransformSpec(
            "InitTracker",
            "Marks the first step of each episode (needed by recurrent policies, OU noise)",
            [ParamSpec("init_key", "str", "is_init", "Key of the flag")],
        ),
        TransformSpec(
            "FrameSkipTransform",
            "Repeats each action for frame_skip env steps, summing their rewards",
            [ParamSpec("frame_skip", "int", 2, "Env steps per action", minimum=1)],
        ),
        TransformSpec(
            "ClipTransform",
            "Clips entries (observations by default) to [low, high]",
            [
                _keys("in_keys", ["observation"], "Entries to clip"),
                ParamSpec("low", "float", None, "Lower bound (empty: none)"),
                ParamSpec("high", "float", None, "Upper bound (empty: none)"),
            ],
        ),
        TransformSpec(
            "RewardClipping",
            "Clips rewards to [clamp_min, clamp_max]",
            [
                ParamSpec("clamp_min", "float", -1.0, "Lower bound"),
                ParamSpec("clamp_max", "float", 1.0, "Upper bound"),
            ],
        ),
        TransformSpec(
            "VecNorm",
            "Running-statistics normalisation (mean and std updated as the env runs)",
            [
                _keys("in_keys", ["observation"], "Entries to normalise"),
                ParamSpec("decay", "float", 0.9999, "Decay of the running statistics", minimum=0),
                ParamSpec("eps", "float", 1e-4, "Added to the std to avoid division by zero", minimum=0),
            ],
            factory=_vec_norm,
        ),
    ]
}


def check_params(cfg: TransformConfig) -> dict[str, Any]:
    """The transform's params, defaults filled in and types checked; ConfigError naming what is wrong."""
    spec = TRANSFORMS.get(cfg.name)
    if spec is None:
        raise ConfigError(
            f"transforms: unknown transform {cfg.name!r}; available: {', '.join(TRANSFORMS)}"
        )
    known = {param.name: param for param in spec.params}
    unknown = sorted(set(cfg.params) - set(known))
    if unknown:
        raise ConfigError.at(
            f"transforms.{cfg.name}.{unknown[0]}",
            f"unknown parameter; {cfg.name} takes {', '.join(known)}",
        )
    checked = {}
    for param in spec.params:
        where = f"transforms.{cfg.name}.{param.name}"
        if param.name not in cfg.params:
            if param.required:
                raise ConfigError.at(where, f"required ({param.description})")
            checked[param.name] = param.default
            continue
        checked[param.name] = _check_value(where, param, cfg.params[param.name])
    return checked


def _check_value(where: str, param: ParamSpec, value: Any) -> Any:
    if value is None:
        if param.required:
            raise ConfigError.at(where, f"required ({param.description})")
        return None
    kind = param.kind
    if kind == "keys":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(_is_key(key) for key in value):
            raise ConfigError.at(where, f"expected a list of keys such as [\"observation\"], got {value!r}")
        return [key if isinstance(key, str) else tuple(key) for key in value]
    if kind == "list":
        numbers = value if isinstance(value, list) else [value]
        if not numbers or not all(_is_number(v) for v in numbers):
            raise ConfigError.at(where, f"expected a number or a list of numbers, got {value!r}")
        return value
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": _is_number(value),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError.at(where, f"expected {'a number' if kind == 'float' else 'a ' + kind}, got {value!r}")
    if param.minimum is not None and value < param.minimum:
        raise ConfigError.at(where, f"must be at least {param.minimum:g}, got {value!r}")
    return float(value) if kind == "float" else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_key(key: Any) -> bool:
    return isinstance(key, str) or (
        isinstance(key, list) and bool(key) and all(isinstance(part, str) for part in key)
    )


def build_transform(cfg: TransformConfig) -> Any:
    """A TorchRL transform from its config; ConfigError naming the transform and param when wrong."""
    spec = TRANSFORMS.get(cfg.name)
    params = check_params(cfg)
    kwargs = {k: v for k, v in params.items() if k not in spec.prepare_params}
    try:
        if spec.factory is not None:
            return spec.factory(params)
        import torchrl.envs

        return getattr(torchrl.envs, spec.name)(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"transforms.{cfg.name}: {exc}") from None


def prepare_transform(transform: Any, cfg: TransformConfig) -> None:
    """Work a transform needs once its env is complete: measuring ObservationNorm's stats."""
    if cfg.name != "ObservationNorm":
        return
    steps = check_params(cfg)["init_stats_steps"]
    if steps:
        batch_dims = len(transform.parent.batch_size)
        # Rollouts are stacked along the time dim (after the env's batch dims); reduce over both.
        transform.init_stats(
            num_iter=steps, reduce_dim=tuple(range(batch_dims + 1)), cat_dim=batch_dims
        )
