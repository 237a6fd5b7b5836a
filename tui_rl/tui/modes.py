"""The app's modes: which screen each one shows, imported on first use.

A mode's screen module is imported when the mode is first shown (none of them imports torch at
module level, yet importing them all would slow the first paint), and a module that fails to import
or build becomes a placeholder screen that says why instead of stopping the app.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Header, Static

from tui_rl.tui.widgets.fitting_footer import FittingFooter

#: mode -> (module, class) of its base screen.
MODE_SCREENS: dict[str, tuple[str, str]] = {
    "setup": ("tui_rl.tui.screens.setup.screen", "SetupScreen"),
    "train": ("tui_rl.tui.screens.train.screen", "TrainScreen"),
    "runs": ("tui_rl.tui.screens.runs.screen", "RunsScreen"),
    "inspect": ("tui_rl.tui.screens.inspector.screen", "InspectorScreen"),
}


class UnavailableScreen(Screen):
    """Stands in for a mode whose screen could not be imported or built, saying why."""

    def __init__(self, mode: str, reason: str) -> None:
        super().__init__(name=mode)
        self.mode = mode
        self.reason = reason

    def compose(self) -> ComposeResult:
        yield Header()
        with Middle(), Center():
            yield Static(
                f"The {self.mode} screen is not available.\n\n{self.reason}", id="unavailable", markup=False
            )
        yield FittingFooter()


def screen_class(mode: str) -> type[Screen]:
    """The screen class of ``mode`` (imports its module; raises what the import raises)."""
    module_name, class_name = MODE_SCREENS[mode]
    return getattr(importlib.import_module(module_name), class_name)


def screen_factory(mode: str) -> Callable[[], Screen]:
    def make() -> Screen:
        try:
            return screen_class(mode)()
        except Exception as exc:  # any failure becomes a visible reason, not a crash
            return UnavailableScreen(mode, f"{type(exc).__name__}: {exc}")

    return make


#: What the app's MODES takes: mode -> a factory of its screen.
MODES: dict[str, Callable[[], Screen]] = {mode: screen_factory(mode) for mode in MODE_SCREENS}
