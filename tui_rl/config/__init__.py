"""Run configuration: pydantic models, the algorithm registry, edits and TOML presets.

Imports neither torch nor textual.
"""

from tui_rl.config.algorithms import ALGORITHMS, fitting_algorithms
from tui_rl.config.edit import apply_overrides, edit, parse_value, validate
from tui_rl.config.errors import ConfigError, FieldError
from tui_rl.config.models import RunConfig, TransformConfig, live_fields
from tui_rl.config.presets import (
    DEFAULT_PRESET,
    PresetInfo,
    list_presets,
    load_file,
    load_preset,
    save_file,
    to_toml,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_PRESET",
    "ConfigError",
    "FieldError",
    "PresetInfo",
    "RunConfig",
    "TransformConfig",
    "apply_overrides",
    "edit",
    "fitting_algorithms",
    "list_presets",
    "live_fields",
    "load_file",
    "load_preset",
    "parse_value",
    "save_file",
    "to_toml",
    "validate",
]
