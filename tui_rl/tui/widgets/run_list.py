"""A table of run folders: name, env, algorithm, status, frames and best evaluation return (a run
with a default name, preset and time, fits 80 columns whole; the Train screen shows the rest,
such as the frame budget).

Enter opens the run under the cursor; space marks runs to compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tui_rl.tui.messages import OpenRun
from tui_rl.tui.widgets.charts import frames_label
from tui_rl.tui.widgets.status_line import STATE_STYLES

COLUMNS = (("mark", "✓"), ("name", "Run"), ("env", "Env"), ("algorithm", "Algo"), ("status", "Status"),
           ("frames", "Frames"), ("best", "Best"))
#: an env id longer than this is cut with an ellipsis: the name column needs the room
ENV_WIDTH = 12


def eval_cell(value: float | None) -> Text:
    return Text("—" if value is None else f"{value:.4g}", justify="right")


class RunList(DataTable):
    """Run folders, newest first as ``list_runs`` gives them."""

    BINDINGS = [
        Binding("enter", "open_run", "Open", id="runs.open"),
        Binding("space", "toggle_mark", "Mark", tooltip="Mark runs to compare", id="runs.mark"),
    ]

    class MarksChanged(Message):
        """The set of runs marked for comparison changed: ``run_dirs`` in table order."""

        def __init__(self, run_dirs: list[Path]) -> None:
            super().__init__()
            self.run_dirs = run_dirs

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.run_dirs: dict[str, Path] = {}
        self.marked: set[str] = set()

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=ENV_WIDTH if key == "env" else None)

    def show_runs(self, runs: list[Any], run_dirs: list[Path]) -> None:
        """Replace the rows with ``runs`` (RunSummary) kept at ``run_dirs``; the cursor stays put."""
        current = self.cursor_row_key
        self.run_dirs = {run.name: path for run, path in zip(runs, run_dirs)}
        self.marked &= set(self.run_dirs)
        self.clear()
        for run in runs:
            self.add_row(
                "✓" if run.name in self.marked else " ",
                run.name,
                Text(run.env_id, no_wrap=True, overflow="ellipsis"),
                run.algorithm,
                Text(run.status, style=STATE_STYLES.get(run.status, "")),
                Text(frames_label(run.frames), justify="right"),
                eval_cell(run.best_eval),
                key=run.name,
            )
        if current in self.run_dirs:
            self.move_cursor(row=self.get_row_index(current))

    @property
    def cursor_row_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    @property
    def cursor_run_dir(self) -> Path | None:
        """The folder of the run under the cursor."""
        name = self.cursor_row_key
        return None if name is None else self.run_dirs[name]

    def action_open_run(self) -> None:
        run_dir = self.cursor_run_dir
        if run_dir is not None:
            self.post_message(OpenRun(run_dir))

    def action_toggle_mark(self) -> None:
        name = self.cursor_row_key
        if name is None:
            return
        self.marked ^= {name}
        self.update_cell(name, "mark", "✓" if name in self.marked else " ")
        order = [n for n in self.run_dirs if n in self.marked]
        self.post_message(self.MarksChanged([self.run_dirs[n] for n in order]))
