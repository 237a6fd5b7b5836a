"""The error an env that cannot be built raises, naming the config field at fault."""

from __future__ import annotations

from tui_rl.config.errors import ConfigError


class EnvError(ConfigError):
    """The env could not be built: unknown id, a missing dependency, bad kwargs."""
