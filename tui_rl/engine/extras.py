"""tui-rl's optional packages: whether one is installed, and the one line that installs it.

Every message that names a missing package builds its install line here (no torch: the command
line and the app use it before their first paint).
"""

from __future__ import annotations

import importlib.util

from tui_rl.config.errors import ConfigError


def install_line(extra: str) -> str:
    """The pip command that installs tui-rl's ``extra``."""
    return f"pip install 'tui-rl[{extra}]'"


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def require(package: str, field: str, extra: str | None = None, instead: str = "") -> None:
    """Refuse, naming the extra that installs it, what needs ``package`` when it is not installed.
    ``instead`` says what else would do (default: turning ``field`` off)."""
    if not installed(package):
        raise ConfigError(
            f"{field}: needs the {package} package, which is not installed "
            f"({install_line(extra or package)}), {instead or f'or set {field} = false'}"
        )
