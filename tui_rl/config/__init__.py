"""Run configuration: pydantic models and TOML presets. Imports neither torch nor textual."""

from tui_rl.config.algorithms import ALGORITHMS, fitting_algorithms
from tui_rl.config.models import RunConfig, TransformConfig, live_fields
from tui_rl.config.presets import (
    DEFAULT_PRESET,
    ConfigError,
    PresetInfo,
    apply_overrides,
    list_presets,
    load_file,
    load_preset,
    save_file,
    to_toml,
    validate,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_PRESET",
    "ConfigError",
    "PresetInfo",
    "RunConfig",
    "TransformConfig",
    "apply_overrides",
    "list_presets",
    "live_fields",
    "fitting_algorithms",
    "load_file",
    "load_preset",
    "save_file",
    "to_toml",
    "validate",
]
