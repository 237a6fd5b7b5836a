"""The footer of every screen, fitted to the terminal's width. When its keys do not fit, whole
keys are left out instead of cutting the line at the edge: the app's own keys (Start, Help, Quit)
always show, then the screen's keys in the order the screen lists them (most useful first), then the
mode keys, each while it still fits. `?` lists every key."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

#: columns Footer's default styles add around a key and its description (key padding 0 1,
#: description padding-right 1); a group's keys are drawn bare beside its label
KEY_PAD = 3
GROUP_PAD = 3
#: the command palette key, docked right, adds its border
PALETTE_PAD = 4


class FittingFooter(Footer):
    """Footer that leaves out the keys that matter least, whole, when they do not all fit."""

    def compose(self) -> ComposeResult:
        shown, labels = self.keys_shown()
        for item in super().compose():
            if isinstance(item, FooterKey) and item.key not in shown:
                continue
            if isinstance(item, FooterLabel) and str(item.content) not in labels:
                continue  # the label of a group left out
            yield item

    def keys_shown(self) -> tuple[set[str], set[str]]:
        """The keys that fit, and the labels of the groups among them."""
        app = self.app
        active = self.screen.active_bindings
        # One item per action, as Footer draws them; a group of several actions is one item.
        first: dict[str, tuple[str, Binding]] = {}
        for key, bound in active.items():
            if bound.binding.show:
                first.setdefault(bound.binding.action, (key, bound.binding))
        units: dict[object, list[tuple[str, Binding]]] = {}
        for key, binding in first.values():
            units.setdefault(binding.group or binding.action, []).append((key, binding))
        kept: set[str] = set()
        labels: set[str] = set()
        room = app.size.width
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        if palette is not None:
            kept.add(app.COMMAND_PALETTE_BINDING)
            room -= width([palette.binding], app) + PALETTE_PAD - KEY_PAD
        listed = [binding.action for binding in self.screen.BINDINGS if isinstance(binding, Binding)]
        ranked = sorted(units.values(), key=lambda unit: rank(unit, active, app, listed))
        for unit in ranked:
            needed = width([binding for _, binding in unit], app)
            if rank(unit, active, app, listed)[0] == 0 or needed <= room:
                kept.update(key for key, _ in unit)
                labels.update(binding.group.description for _, binding in unit if binding.group is not None)
                room -= needed
        return kept, labels

    async def recompose(self) -> None:
        await super().recompose()
        for group in self.query(KeyGroup):
            group.display = bool(group.children)  # a group whose keys were all left out

    def on_resize(self, event: Resize) -> None:
        self.refresh(recompose=True)


def rank(unit: list[tuple[str, Binding]], active, app, listed: list[str]) -> tuple[int, int]:
    """The app's own single keys first (always shown), then the screen's in the order of its
    BINDINGS (its widgets' after them), then the app's groups (modes)."""
    key, binding = unit[0]
    if active[key].node is app:
        return (2 if len(unit) > 1 else 0), 0
    return 1, listed.index(binding.action) if binding.action in listed else len(listed)


def width(bindings: list[Binding], app) -> int:
    if len(bindings) > 1:  # a group: bare keys, then the group's label
        return sum(cell_len(app.get_key_display(b)) for b in bindings) + cell_len(bindings[0].group.description) + GROUP_PAD
    binding = bindings[0]
    return cell_len(app.get_key_display(binding)) + cell_len(binding.description) + KEY_PAD
