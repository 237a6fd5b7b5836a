"""The branch dialog (b in Train and Runs): which checkpoint to start from (or a new one now, for a
live run) and any field of the run's config to change, each checked as it is typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Select, Static

from tui_rl.config import RunConfig
from tui_rl.engine.runs.diff import config_diff
from tui_rl.tui.widgets.hparam_form import HparamForm

#: the checkpoint choice that takes a new checkpoint of a live run first
NOW = -1
#: fields a branch does not offer: the words describing a preset, and the algorithm itself (another
#: algorithm is another run, not a branch of this one)
NOT_OFFERED = ("description", "algorithm.name")


def branch_fields(config: RunConfig) -> list[str]:
    """Every editable field of ``config`` as a dotted path, section by section."""
    paths = []
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            paths += [f"{name}.{sub}" for sub in type(value).model_fields if f"{name}.{sub}" not in NOT_OFFERED]
        elif not isinstance(value, list) and name not in NOT_OFFERED:
            paths.append(name)
    return paths


@dataclass
class BranchRequest:
    """What the dialog asks for: the checkpoint (``NOW`` for a new one) and the changed fields."""

    at_frames: int
    changes: dict[str, Any] = field(default_factory=dict)


class BranchScreen(ModalScreen[BranchRequest | None]):
    """Dismisses with a :class:`BranchRequest`, or None when cancelled."""

    CSS_PATH = ["branch.tcss", "../../widgets/hparam_form.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="branch.cancel"),
        Binding("ctrl+b", "branch", "Branch", id="branch.confirm"),
    ]

    def __init__(self, run_name: str, config: RunConfig, checkpoints: list[int], live: bool) -> None:
        super().__init__()
        self.run_name = run_name
        self.config = config
        self.choices = ([("now (a new checkpoint)", NOW)] if live else []) + [
            (f"{frames:,} frames", frames) for frames in sorted(checkpoints, reverse=True)
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="branch-panel") as panel:
            panel.border_title = f"Branch run {self.run_name}"
            with Horizontal(id="branch-from"):
                yield Static("From the checkpoint at", markup=False)
                yield Select(self.choices, value=self.choices[0][1], allow_blank=False, compact=True,
                             id="branch-checkpoint")
            yield Static("Change any field; the parent goes on as it is.", id="branch-hint", markup=False)
            # edits check against the branch's own config, not the app's
            yield HparamForm(self.config, branch_fields(self.config), source="branch", id="branch-form")
            yield Static("", id="branch-error", markup=False)
            with Horizontal(id="branch-buttons"):
                yield Button("Branch (ctrl+b)", variant="primary", id="branch-go")
                yield Button("Cancel (esc)", id="branch-cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "branch-go":
            self.action_branch()
        else:
            self.dismiss(None)

    def action_branch(self) -> None:
        form = self.query_one(HparamForm)
        if form.invalid:
            self.query_one("#branch-error", Static).update(f"Fix first: {', '.join(sorted(form.invalid))}")
            return
        changes = {diff.path: diff.right for diff in config_diff(self.config, form.config)}
        self.dismiss(BranchRequest(self.query_one("#branch-checkpoint", Select).value, changes))
