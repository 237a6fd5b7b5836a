"""A table of run folders: name, env, algorithm, status, frames and best evaluation return (the
Train screen shows the rest, such as the frame budget). Branches sit under their parent, seed
groups head their runs (:mod:`tui_rl.tui.screens.runs.run_rows`). When the table is narrower than its rows, it
leaves out the env, then the algorithm, then shortens names in the middle (their ends tell
branches, seeds and trials apart), so Status, Frames and Best always show whole.

Enter opens the run under the cursor; space marks runs or groups to compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tui_rl.engine.runs.stats import iqm
from tui_rl.tui.messages import OpenRun
from tui_rl.tui.screens.runs.run_rows import RunRow
from tui_rl.tui.widgets.charts import frames_label
from tui_rl.tui.widgets.status_line import STATE_STYLES

COLUMNS = (("mark", "✓"), ("name", "Run"), ("env", "Env"), ("algorithm", "Algo"), ("status", "Status"),
           ("frames", "Frames"), ("best", "Best"))
#: an env id longer than this is cut with an ellipsis: the name column needs the room
ENV_WIDTH = 12
#: left out in this order when the rows are wider than the table
SPARE_COLUMNS = ("env", "algorithm")
#: a name is never shortened below this
NAME_MIN = 12


def eval_cell(value: float | None) -> Text:
    return Text("—" if value is None else f"{value:.4g}", justify="right")


def row_cells(row: RunRow) -> tuple[Any, ...]:
    """The cells after the mark: a run's own figures, or a group's (most common status, the
    least frames, the IQM of its best returns)."""
    if row.group is None:
        run = row.run
        status, frames, best = run.shown_status, run.frames, run.best_eval
    else:
        runs = row.group.runs
        run = runs[0]
        statuses = [r.shown_status for r in runs]
        status = max(set(statuses), key=statuses.count)
        frames = min(r.frames for r in runs)
        bests = [r.best_eval for r in runs if r.best_eval is not None]
        best = float(iqm(bests)) if bests else None
    return (
        row.label,
        Text(run.env_id, no_wrap=True, overflow="ellipsis"),
        run.algorithm,
        Text(status, style=STATE_STYLES.get(status, "")),
        Text(frames_label(frames), justify="right"),
        eval_cell(best),
    )


def shortened(name: str, width: int) -> str:
    """``name`` in ``width`` cells, cut in the middle: its start and its distinguishing end stay."""
    if cell_len(name) <= width:
        return name
    tail = (width - 1) // 2
    return name[: width - 1 - tail] + "…" + name[len(name) - tail:]


def fitting_layout(cells: list[tuple[Any, ...]], width: int, padding: int) -> tuple[list[str], int | None]:
    """The columns to show for rows of ``cells`` in ``width`` cells, and the width names are
    shortened to (None: whole)."""
    keys = [key for key, _ in COLUMNS]
    widths = {key: cell_len(label) for key, label in COLUMNS}
    for row in cells:
        for key, cell in zip(keys, row):
            widths[key] = max(widths[key], cell_len(str(cell)))
    widths["env"] = min(widths["env"], ENV_WIDTH)

    def needed(columns: list[str]) -> int:
        return sum(widths[key] + 2 * padding for key in columns)

    for spare in range(len(SPARE_COLUMNS) + 1):
        columns = [key for key in keys if key not in SPARE_COLUMNS[:spare]]
        if needed(columns) <= width:
            return columns, None
    return columns, max(NAME_MIN, widths["name"] - (needed(columns) - width))


class RunList(DataTable):
    """Run folders, newest first as ``list_runs`` gives them, in a tree."""

    BINDINGS = [
        Binding("enter", "open_run", "Open", id="runs.open"),
        Binding("space", "toggle_mark", "Mark", tooltip="Mark runs or groups to compare", id="runs.mark"),
    ]

    class MarksChanged(Message):
        """The runs and groups marked for comparison changed: their rows in table order."""

        def __init__(self, rows: list[RunRow]) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.items: dict[str, RunRow] = {}
        self.marked: set[str] = set()
        self.shown_columns: list[str] = []

    def on_resize(self) -> None:
        self.show_rows(list(self.items.values()))

    def show_rows(self, rows: list[RunRow]) -> None:
        """Replace the rows, with the columns that fit; the cursor stays put."""
        current = self.cursor_row_key
        self.items = {row.key: row for row in rows}
        kept = self.marked & set(self.items)
        if kept != self.marked:  # a filter or a removal took marked rows away: the overlay follows
            self.marked = kept
            self.post_message(self.MarksChanged(self.marked_rows))
        cells = [("✓", *row_cells(row)) for row in rows]
        columns, name_width = fitting_layout(cells, self.scrollable_content_region.width, self.cell_padding)
        if columns != self.shown_columns:
            self.clear(columns=True)
            for key, label in COLUMNS:
                if key in columns:
                    self.add_column(label, key=key, width=ENV_WIDTH if key == "env" else None)
            self.shown_columns = columns
        self.clear()
        for row, line in zip(rows, cells):
            shown = dict(zip((key for key, _ in COLUMNS), line))
            shown["mark"] = "✓" if row.key in self.marked else " "
            if name_width is not None:
                shown["name"] = shortened(row.label, name_width)
            self.add_row(*(shown[key] for key in columns), key=row.key)
        if current in self.items:
            self.move_cursor(row=self.get_row_index(current))

    @property
    def cursor_row_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    @property
    def cursor_item(self) -> RunRow | None:
        key = self.cursor_row_key
        return None if key is None else self.items.get(key)

    @property
    def cursor_run_dir(self) -> Path | None:
        """The folder of the run under the cursor (None on a group's row)."""
        row = self.cursor_item
        return None if row is None or row.run is None else Path(row.run.path)

    @property
    def marked_rows(self) -> list[RunRow]:
        return [row for key, row in self.items.items() if key in self.marked]

    def action_open_run(self) -> None:
        run_dir = self.cursor_run_dir
        if run_dir is not None:
            self.post_message(OpenRun(run_dir))

    def action_toggle_mark(self) -> None:
        key = self.cursor_row_key
        if key is None:
            return
        self.marked ^= {key}
        self.update_cell(key, "mark", "✓" if key in self.marked else " ")
        self.post_message(self.MarksChanged(self.marked_rows))
