"""The command palette reaches every action that has a key: the app's, and those of every mode's
screen and its widgets, found from their bindings (so a new binding needs no palette entry).

An action of another mode switches to that mode first, as pressing its number key would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from tui_rl.tui.modes import screen_class

if TYPE_CHECKING:
    from textual.app import App


@dataclass(frozen=True)
class BoundAction:
    """One key binding and the node whose action it runs."""

    binding: Binding
    node: DOMNode

    @property
    def where(self) -> str:
        """A readable name of the node: "App", a screen ("Setup") or a widget ("Transform stack")."""
        if self.node is self.node.app:
            return "App"
        name = type(self.node).__name__.removesuffix("Screen") or "Screen"
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).capitalize()


def is_listed(binding: Binding) -> bool:
    return bool(binding.description) and not binding.system


def in_palette(command: PaletteCommand) -> bool:
    return command.binding.action not in ("command_palette", "app.command_palette")


def textual_defaults_of(node_class: type[DOMNode]) -> set[Binding]:
    """Bindings a screen inherits from Textual's own classes (focus next, copy...): not ours to list."""
    found: set[Binding] = set()
    for cls in node_class.__mro__:
        if cls.__module__.startswith("textual.") and getattr(cls, "_merged_bindings", None):
            found.update(binding for _key, binding in cls._merged_bindings)
    return found


def bound_actions(node: DOMNode) -> list[BoundAction]:
    """Described bindings of ``node`` and, for a screen, of its tui-rl widgets (Textual's own
    widgets' keys, such as cursor movement, belong to those widgets and are left out)."""
    nodes = [node]
    if node is not node.app:
        nodes += [
            child
            for child in node.walk_children()
            if type(child).__module__.startswith("tui_rl.")
        ]
    found = []
    for each in nodes:
        defaults = set() if each is node.app else textual_defaults_of(type(each))
        for _key, binding in each._bindings:
            if is_listed(binding) and binding not in defaults:
                found.append(BoundAction(binding, each))
    return found


def class_bindings(app: App, mode: str) -> list[Binding]:
    """The bindings of a mode's screen class, for a mode not shown yet (importing it is cheap:
    screens never import torch at module level)."""
    try:
        shown_class = screen_class(mode)
    except Exception:
        return []
    defaults = textual_defaults_of(shown_class)
    merged = shown_class._merged_bindings
    return [b for _key, b in merged or [] if is_listed(b) and b not in defaults]


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    mode: str | None
    binding: Binding
    node: DOMNode | None  # None: the mode's screen, created by switching to it


class BindingCommands(Provider):
    """Every bound action of the app and of each mode, named ``Mode: Description``."""

    def commands(self) -> list[PaletteCommand]:
        app = self.app
        commands = [
            PaletteCommand(b.binding.description, self.key_help(b.binding), None, b.binding, app)
            for b in bound_actions(app)
        ]
        for mode in app.MODES:
            label = mode.capitalize()
            try:
                stack = app.get_screen_stack(mode)
            except KeyError:  # not shown yet
                stack = []
            if stack:
                for screen in stack:
                    for bound in bound_actions(screen):
                        commands.append(self.command(label, mode, bound.binding, bound.node))
            else:
                for binding in class_bindings(app, mode):
                    commands.append(self.command(label, mode, binding, None))
        unique = {(c.title, c.binding.action): c for c in commands if in_palette(c)}
        return list(unique.values())

    def command(
        self, label: str, mode: str, binding: Binding, node: DOMNode | None
    ) -> PaletteCommand:
        return PaletteCommand(
            f"{label}: {binding.description}", self.key_help(binding), mode, binding, node
        )

    def key_help(self, binding: Binding) -> str:
        key = self.app.get_key_display(binding)
        return f"{binding.tooltip}  [{key}]" if binding.tooltip else f"key: {key}"

    def runner(self, command: PaletteCommand):
        app = self.app

        async def run() -> None:
            node = command.node
            if command.mode is not None:
                if app.current_mode != command.mode:
                    await app.switch_mode(command.mode)
                if node is None:
                    node = app.get_screen_stack(command.mode)[0]
            await app.run_action(command.binding.action, node)

        return run

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.title, self.runner(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.title), self.runner(command), help=command.help
                )
