"""Which transform to add: the registry's names with what each does."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_rl.engine.envs.transforms import TRANSFORMS


class AddTransformScreen(ModalScreen[str | None]):
    """Dismisses with the chosen transform's name, or None."""

    CSS_PATH = "add_transform.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="add_transform.cancel"),
    ]

    def compose(self) -> ComposeResult:
        options = OptionList(
            *[
                # The description indented on every line it wraps to, under its name.
                Option(
                    Group(Text(name, "bold"), Padding(Text(spec.description, "dim"), (0, 0, 0, 2))),
                    id=name,
                )
                for name, spec in TRANSFORMS.items()
            ],
            id="add-transform-list",
        )
        options.border_title = "Add a transform"
        options.border_subtitle = "enter adds · esc cancels"
        yield options

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
