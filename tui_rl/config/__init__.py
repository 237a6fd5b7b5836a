"""Run configuration: pydantic models and TOML presets. Imports neither torch nor textual."""

from tui_rl.config.models import ALGORITHM_ACTION_KINDS, ALGORITHMS, RunConfig, TransformConfig, live_fields
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
    "ALGORITHM_ACTION_KINDS",
    "ALGORITHMS",
    "DEFAULT_PRESET",
    "ConfigError",
    "PresetInfo",
    "RunConfig",
    "TransformConfig",
    "apply_overrides",
    "list_presets",
    "live_fields",
    "load_file",
    "load_preset",
    "save_file",
    "to_toml",
    "validate",
]
