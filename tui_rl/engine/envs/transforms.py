"""The TorchRL transforms a run can stack, with their parameters described for forms and validation.

Each entry names a transform class and the parameters it offers, with a description each; their
kinds, defaults and whether they are required come from the class's signature
(:mod:`tui_rl.engine.envs.transform_params`), overridden only where the registry means something else.

No torch import at module level: the app reads :data:`TRANSFORMS` before its first paint. Only
:func:`build_transform` loads torchrl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from tui_rl.config.errors import ConfigError
from tui_rl.config.models import TransformConfig
from tui_rl.engine.envs.transform_params import ParamSpec, check_value, derive_signature, load_signatures

#: images and vectors alike: transforms act on the observation unless told otherwise
OBSERVATION = ["observation"]
IMAGE_TARGET = "tui_rl.engine.envs.image_transforms:"


@dataclass(frozen=True)
class TransformSpec:
    name: str
    description: str
    params: list[ParamSpec]
    #: builds the transform from checked params; default: ``target`` called with them
    factory: Callable[[dict[str, Any]], Any] | None = None
    #: params consumed by :func:`prepare_transform` once the env is built, not by the constructor
    prepare_params: tuple[str, ...] = field(default=())
    #: ``module:Class`` built (and whose signature the params come from); None: ``factory`` only
    target: str | None = None
    #: steps or resets the env itself: the episode bookkeeping goes after it (engine/envs/making.py)
    drives_env: bool = False
    #: acts on one env copy (TorchRL's version refuses a batch): each copy gets its own
    per_copy: bool = False
    #: its spec transform rebuilds the env before it (TorchRL's ``parent``), so each one doubles
    #: what making the env costs: see :data:`MAX_SPEC_READERS`
    reads_parent_specs: bool = False


def entry(
    name: str,
    description: str,
    params: dict[str, str],
    *,
    target: str | None = "",
    overrides: dict[str, dict[str, Any]] | None = None,
    extra: tuple[ParamSpec, ...] = (),
    **options: Any,
) -> TransformSpec:
    """A registry entry: ``params`` (name -> description) read from ``target``'s signature
    (default: ``torchrl.envs:<name>``), ``overrides`` replacing what the signature says, ``extra``
    params the constructor does not take (a factory or prepare step uses them)."""
    target = f"torchrl.envs:{name}" if target == "" else target
    derived = {}
    if target:
        # read live (loading torch) only when the file lacks it: tests/test_transforms.py says so
        derived = SIGNATURES[target] if target in SIGNATURES else derive_signature(target)
    specs = []
    for param, description in params.items():
        found = {**(derived.get(param) or {}), **(overrides or {}).get(param, {})}
        if "kind" not in found:
            raise KeyError(f"{name}.{param}: the registry gives no kind, and {target}'s signature names none")
        specs.append(ParamSpec(param, description=description, **found))
    return TransformSpec(name, description, specs + list(extra), target=target, **options)


def _observation_norm(params: dict[str, Any]) -> Any:
    from torchrl.envs import ObservationNorm

    steps = params["init_stats_steps"]
    missing = [name for name in ("loc", "scale") if params[name] is None]
    if steps == 0 and missing:
        raise ConfigError.at(
            f"transforms.ObservationNorm.{missing[0]}",
            "ObservationNorm needs loc and scale, or init_stats_steps > 0 to measure them from random steps",
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


def _select_entries(params: dict[str, Any]) -> Any:
    from tui_rl.engine.envs.image_transforms import select_entries

    return select_entries(params["indices"], params["in_keys"])


def _tensor(value: float | list[float]) -> Any:
    import torch

    return torch.as_tensor(value, dtype=torch.float32)


SIGNATURES = load_signatures()
ON_OBSERVATION = {"in_keys": {"default": OBSERVATION}}
IN_KEYS = {"in_keys": "Entries to transform"}
IMAGE_SIZE = {"w": "Size of the first image dim (rows)", "h": "Size of the second (columns; empty: w)"}
#: bounds on what a transform may cost, so the checks (one env step) finish in bounded time and
#: memory: frames stacked, random steps measured, env steps per action or reset, image sides
MAX_STACK, MAX_STATS_STEPS, MAX_REPEATS, MAX_IMAGE_SIDE = 64, 100_000, 1000, 1024
#: transforms that read the specs before them in one stack: one of each is plenty, and each one
#: doubles the time to make the env (with 12 StepCounters it takes over a minute)
MAX_SPEC_READERS = 4
IMAGE_BOUNDS = {"w": {"default": 84, "minimum": 1, "maximum": MAX_IMAGE_SIDE},
                "h": {"minimum": 1, "maximum": MAX_IMAGE_SIDE}}

TRANSFORMS: dict[str, TransformSpec] = {
    spec.name: spec
    for spec in [
        entry("StepCounter", "Counts steps since the last reset; can truncate episodes after max_steps",
              {"max_steps": "Truncate episodes after this many steps", "step_count_key": "Key the count is written to"},
              overrides={"max_steps": {"minimum": 1}}, reads_parent_specs=True),
        entry("RewardSum", "Sums rewards over each episode (the episode return so far)",
              {"in_keys": "Reward entries to sum", "out_keys": "Where the running sums are written"},
              overrides={"in_keys": {"default": ["reward"]}, "out_keys": {"default": ["episode_reward"]}},
              reads_parent_specs=True),
        entry("DoubleToFloat", "Casts float64 entries (observations of many Gymnasium envs) to float32",
              {"in_keys": "Entries to cast (empty: every float64 entry)"}),
        entry("ObservationNorm", "Affine normalisation of observations, with fixed or measured loc and scale",
              {"in_keys": "Entries to normalise", "loc": "Location: a number or one per dimension",
               "scale": "Scale: a number or one per dimension",
               "standard_normal": "Compute (obs - loc) / scale; otherwise obs * scale + loc"},
              overrides={**ON_OBSERVATION, "standard_normal": {"default": True}},
              extra=(ParamSpec("init_stats_steps", "int", 0,
                               "Measure loc and scale from this many random steps when the env is built",
                               minimum=0, maximum=MAX_STATS_STEPS),),
              factory=_observation_norm, prepare_params=("init_stats_steps",)),
        entry("RewardScaling", "Affine reward transform: reward * scale + loc (standard_normal: (reward - loc) / scale)",
              {"loc": "Location", "scale": "Scale", "standard_normal": "Compute (reward - loc) / scale"},
              overrides={"loc": {"kind": "float", "default": 0.0, "required": False},
                         "scale": {"kind": "float", "default": 1.0, "required": False}}),
        entry("CatFrames", "Stacks the last N observations along a dimension (frame stacking; dim -3 for images)",
              {"N": "Number of frames to stack", "dim": "Dimension to concatenate along (negative)",
               "in_keys": "Entries to stack"},
              overrides={**ON_OBSERVATION, "N": {"default": 4, "minimum": 1, "maximum": MAX_STACK},
                         "dim": {"default": -1, "required": False}}),
        entry("InitTracker", "Marks the first step of each episode (needed by recurrent policies, OU noise)",
              {"init_key": "Key of the flag"}, reads_parent_specs=True),
        entry("FrameSkipTransform", "Repeats each action for frame_skip env steps, summing their rewards "
              "(applied on the env, before the episode counts)",
              {"frame_skip": "Env steps per action"}, overrides={"frame_skip": {"minimum": 1, "maximum": MAX_REPEATS}},
              drives_env=True),
        entry("NoopResetEnv", "Takes up to noops no-op steps after each reset, so episodes start apart "
              "(applied on the env, before the episode counts)",
              {"noops": "Most no-op steps", "random": "A random number of them, from 1 to noops"},
              overrides={"noops": {"minimum": 1, "maximum": MAX_REPEATS}}, drives_env=True, per_copy=True),
        entry("EndOfLifeTransform", "Flags the loss of a life (Atari) under end-of-life, for losses to treat as a done",
              {"eol_key": "Key of the flag", "lives_key": "Key of the lives left"}, per_copy=True),
        entry("ClipTransform", "Clips entries (observations by default) to [low, high]",
              {"in_keys": "Entries to clip", "low": "Lower bound (empty: none)", "high": "Upper bound (empty: none)"},
              overrides={"in_keys": {"kind": "keys", "default": OBSERVATION},  # unannotated there
                         "low": {"kind": "float"}, "high": {"kind": "float"}}, reads_parent_specs=True),
        entry("RewardClipping", "Clips rewards to [clamp_min, clamp_max]",
              {"clamp_min": "Lower bound", "clamp_max": "Upper bound"},
              overrides={"clamp_min": {"default": -1.0}, "clamp_max": {"default": 1.0}}),
        entry("VecNorm", "Running-statistics normalisation (mean and std updated as the env runs)",
              {"in_keys": "Entries to normalise", "decay": "Decay of the running statistics",
               "eps": "Added to the std to avoid division by zero"},
              target="torchrl.envs:VecNormV2",
              overrides={"in_keys": {"default": OBSERVATION, "required": False},
                         "decay": {"minimum": 0}, "eps": {"minimum": 0}},
              factory=_vec_norm, reads_parent_specs=True),
        entry("RenameTransform", "Renames entries (an image env's pixels to the observation the networks read)",
              {"in_keys": "Entries to rename", "out_keys": "Their new names"},
              overrides={"in_keys": {"kind": "keys", "default": ["pixels"]},
                         "out_keys": {"kind": "keys", "default": OBSERVATION}}),
        entry("ToTensorImage", "Turns H x W x C images into C x H x W (from_int: and scales 0-255 to 0-1)",
              {"from_int": "Divide by 255 (empty: when the image is not float)", "dtype": "dtype of the result",
               **IN_KEYS},
              overrides={**ON_OBSERVATION, "dtype": {"kind": "dtype", "default": "float32"}}),
        entry("GrayScale", "Turns C x H x W RGB images into 1 x H x W grey ones", IN_KEYS, overrides=ON_OBSERVATION),
        entry("Resize", "Resizes C x H x W images to w x h (uint8 stays uint8)",
              {**IMAGE_SIZE, "interpolation": "bilinear, bicubic, nearest...", **IN_KEYS},
              target=IMAGE_TARGET + "Resize", overrides={**ON_OBSERVATION, **IMAGE_BOUNDS}),
        entry("CenterCrop", "Crops the centre w x h of C x H x W images", {**IMAGE_SIZE, **IN_KEYS},
              target=IMAGE_TARGET + "CenterCrop", overrides={**ON_OBSERVATION, **IMAGE_BOUNDS}),
        entry("SelectObservation", "Keeps only some entries of a vector observation: a partially observed task "
              "(CartPole without its velocities keeps [0, 2])", IN_KEYS, target=None,
              overrides={"in_keys": {"kind": "keys", "default": OBSERVATION}},
              extra=(ParamSpec("indices", "ints", [0, 2], "Entries of the last dim to keep", required=True, minimum=0),),
              factory=_select_entries),
    ]
}


def drives_env(name: str) -> bool:
    spec = TRANSFORMS.get(name)
    return spec is not None and spec.drives_env


def per_copy(name: str) -> bool:
    spec = TRANSFORMS.get(name)
    return spec is not None and spec.per_copy


def derived_targets() -> list[str]:
    """The classes whose signatures the registry reads."""
    return [spec.target for spec in TRANSFORMS.values() if spec.target]


def check_stack(transforms: list[TransformConfig]) -> None:
    """Refuse a stack whose env could not be made in bounded time and memory: CatFrames stacking
    more than :data:`MAX_STACK` frames in all, or more than :data:`MAX_SPEC_READERS` transforms that
    read the specs before them. ConfigError names the first transform too many."""
    stacked = 1
    for index, transform in enumerate(transforms):  # stacks of stacks multiply the observation
        if transform.name == "CatFrames" and isinstance(transform.params.get("N"), int):
            stacked *= transform.params["N"]
            if stacked > MAX_STACK:
                raise ConfigError.at(f"transforms.{index}", f"the CatFrames of the stack take {stacked:,} frames "
                                     f"in all: at most {MAX_STACK}")
    readers = [i for i, t in enumerate(transforms) if t.name in TRANSFORMS and TRANSFORMS[t.name].reads_parent_specs]
    if len(readers) > MAX_SPEC_READERS:
        kinds = ", ".join(name for name, spec in TRANSFORMS.items() if spec.reads_parent_specs)
        raise ConfigError.at(f"transforms.{readers[MAX_SPEC_READERS]}",
                             f"a stack takes at most {MAX_SPEC_READERS} of {kinds}: each one doubles the time "
                             "to make the env")


def check_params(cfg: TransformConfig) -> dict[str, Any]:
    """The transform's params, defaults filled in and types checked; ConfigError naming what is wrong."""
    spec = TRANSFORMS.get(cfg.name)
    if spec is None:
        raise ConfigError.at(
            f"transforms.{cfg.name}", f"unknown transform {cfg.name!r}; available: {', '.join(TRANSFORMS)}"
        )
    known = {param.name: param for param in spec.params}
    unknown = sorted(set(cfg.params) - set(known))
    if unknown:
        raise ConfigError.at(
            f"transforms.{cfg.name}.{unknown[0]}", f"unknown parameter; {cfg.name} takes {', '.join(known)}"
        )
    checked = {}
    for param in spec.params:
        where = f"transforms.{cfg.name}.{param.name}"
        value = cfg.params.get(param.name)
        if value is None and param.required:
            raise ConfigError.at(where, f"required ({param.description})")
        if param.name not in cfg.params:
            checked[param.name] = param.default
        else:  # an explicit None leaves an optional param empty
            checked[param.name] = None if value is None else check_value(where, param, value)
    return checked


def build_transform(cfg: TransformConfig) -> Any:
    """A TorchRL transform from its config; ConfigError naming the transform and param when wrong."""
    params = check_params(cfg)
    spec = TRANSFORMS[cfg.name]
    try:
        if spec.factory is not None:
            return spec.factory(params)
        import importlib

        import torch

        kwargs = {
            param.name: getattr(torch, params[param.name]) if param.kind == "dtype" else params[param.name]
            for param in spec.params
            if param.name not in spec.prepare_params and params[param.name] is not None
        }
        module, _, name = spec.target.partition(":")
        return getattr(importlib.import_module(module), name)(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError.at(f"transforms.{cfg.name}", str(exc)) from None


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


if __name__ == "__main__":  # rewrite transform_signatures.json from the installed TorchRL
    import json

    from tui_rl.engine.envs.transform_params import SIGNATURES_PATH, signatures_of

    SIGNATURES_PATH.write_text(json.dumps(signatures_of(derived_targets()), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SIGNATURES_PATH}")
