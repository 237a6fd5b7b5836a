"""What differs between two runs or seed groups: their configs side by side (only the fields that
differ), the live edits each received, and both curves on one chart. A group shows its first
run's config and edits (its runs differ only by seed)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui_rl.engine.runs.diff import FieldDiff, LiveEdit, run_diff
from tui_rl.tui.screens.runs.run_rows import RunRow
from tui_rl.tui.widgets.fitting_footer import FittingFooter
from tui_rl.tui.screens.runs.run_comparison import RunComparison


def row_name(row: RunRow) -> str:
    return row.group.name if row.group is not None else row.run.name


def edits_table(title: str, edits: list[LiveEdit]) -> Table:
    table = Table("frames", "field", "change", title=title, box=None, header_style="bold", pad_edge=False)
    for edit in edits:
        table.add_row(f"{edit.frames:,}", edit.path, f"{edit.previous} → {edit.value}")
    if not edits:
        table.add_row("", "no live edits", "")
    return table


class RunDiffScreen(ModalScreen[None]):
    """Two marked rows of the Runs pane, compared."""

    CSS_PATH = ["run_diff.tcss", "run_comparison.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss(None)", "Close", id="diff.close")]

    class Loaded(Message):
        def __init__(self, fields: list[FieldDiff], left: list[LiveEdit], right: list[LiveEdit]) -> None:
            super().__init__()
            self.fields = fields
            self.left = left
            self.right = right

    def __init__(self, left: RunRow, right: RunRow) -> None:
        super().__init__()
        self.left = left
        self.right = right

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="diff-panel") as panel:
            panel.border_title = f"{row_name(self.left)}  vs  {row_name(self.right)}"
            yield DataTable(id="config-diff", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="diff-edits"):
                yield Static("", id="edits-left")
                yield Static("", id="edits-right")
            yield RunComparison(id="diff-chart")
        yield FittingFooter()

    def on_mount(self) -> None:
        table = self.query_one("#config-diff", DataTable)
        table.add_columns("field", row_name(self.left), row_name(self.right))
        self.query_one(RunComparison).compare([self.left, self.right])
        self._load(self.left.run_dirs[0], self.right.run_dirs[0])

    @work(thread=True, exit_on_error=False)
    def _load(self, left: Path, right: Path) -> None:
        try:
            fields, left_edits, right_edits = run_diff(left, right)
        except Exception as exc:  # a config that no longer loads: said in the table
            fields, left_edits, right_edits = [FieldDiff("(cannot compare)", str(exc), "")], [], []
        self.post_message(self.Loaded(fields, left_edits, right_edits))

    def on_run_diff_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one("#config-diff", DataTable)
        for diff in message.fields:
            table.add_row(diff.path, str(diff.left), str(diff.right))
        if not message.fields:
            table.add_row("(the configs are the same)", "", "")
        self.query_one("#edits-left", Static).update(edits_table(f"live edits of {row_name(self.left)}", message.left))
        self.query_one("#edits-right", Static).update(edits_table(f"live edits of {row_name(self.right)}", message.right))
