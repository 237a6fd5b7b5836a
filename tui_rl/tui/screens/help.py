"""`?`: every key of the app and of the screen it was opened from, with what it does."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from tui_rl.tui.commands import bound_actions


class HelpScreen(ModalScreen[None]):
    """A modal table of key, action and where it applies."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc", id="help.close"),
    ]

    def __init__(self, over: Screen) -> None:
        super().__init__()
        self.over = over

    def compose(self) -> ComposeResult:
        with Vertical(id="help-panel") as panel:
            panel.border_title = "Keys"
            panel.border_subtitle = "↑↓ scroll · esc closes"
            yield Static(
                "[b]ctrl+p[/b] finds any action by name, in every mode. "
                "[b]tab[/b] moves between panes.",
                id="help-hint",
            )
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action", "Where")
        # One row per action: keys bound to the same action are listed together ("q, ^q").
        keys_by_action: dict[tuple[str, str], list[str]] = {}
        for bound in bound_actions(self.app) + bound_actions(self.over):
            keys = keys_by_action.setdefault((bound.binding.description, bound.where), [])
            key = self.app.get_key_display(bound.binding)
            if key not in keys:
                keys.append(key)
        for (description, where), keys in keys_by_action.items():
            table.add_row(", ".join(keys), description, where)
