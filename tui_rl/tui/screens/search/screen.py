"""The search screen: a study's trials as they run, and what steers them.

A table of the trials (state, return, best evaluation, frames, where pruned, parameters) above
four views: the best-so-far curve, the running trials' live returns, parameter importance, and a
slice view of one parameter against the return. The study is read from the runs folder's database
every two seconds in a thread worker (Optuna loads there, never before the first paint).

Keys: ``enter`` opens the trial's run in Train, ``p`` prunes the running trial under the cursor,
``x`` stops the whole search (running trials are pruned, no new one starts), ``ctrl+s`` saves the
trial's config as a preset (the save-preset dialog of Setup), ``n`` shows the next study, ``v`` the
next parameter in the slice view, ``]`` and ``[`` the next and previous view (as the other screens'
charts and tabs). Requests go through the study, so they reach workers anywhere; opening it loads
Optuna (seconds the first time), so a request is said at once and a repeat waits for it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from tui_rl.engine.extras import install_line
from tui_rl.tui.messages import OpenRun
from tui_rl.tui.screens.confirm import ConfirmScreen
from tui_rl.tui.screens.save_preset import save_as_preset
from tui_rl.tui.screens.search import plots as search_plots
from tui_rl.tui.widgets.fitting_footer import FittingFooter
from tui_rl.tui.widgets.plotext_figure import PlotextFigure

if TYPE_CHECKING:
    from tui_rl.engine.search.view import StudyView, TrialRow

REFRESH_S = 2.0
#: the app's task under way (tui/under_way.py) while a prune or stop request reaches the study
REQUEST_TASK = "search-request"
COLUMNS = ("#", "state", "return", "best eval", "frames", "pruned at", "parameters")


class SearchScreen(Screen):
    """One study of the runs folder (the newest unless named), refreshed while it is shown."""

    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="search.close"),
        Binding("p", "prune", "Prune trial", id="search.prune"),
        Binding("x", "stop_search", "Stop search", id="search.stop"),
        Binding("ctrl+s", "promote", "Save as preset", id="search.promote"),
        Binding("n", "next_study", "Next study", id="search.next_study"),
        Binding("v", "next_param", "Slice param", id="search.next_param"),
        Binding("right_square_bracket", "cycle_view(1)", "View", key_display="]", id="search.next_view", show=False),
        Binding("left_square_bracket", "cycle_view(-1)", "Previous view", key_display="[", id="search.prev_view",
                show=False),
    ]

    def __init__(self, runs_dir: Path, study: str | None = None) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.study = study
        self.names: list[str] = []
        self.view: StudyView | None = None
        self.param_index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading the studies...", id="search-status", markup=False)
        table: DataTable = DataTable(id="search-trials", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        with TabbedContent(id="search-views"):
            with TabPane("Best so far", id="search-tab-best"):
                yield PlotextFigure(id="search-best")
            with TabPane("Live", id="search-tab-live"):
                yield PlotextFigure(id="search-live")
            with TabPane("Importance", id="search-tab-importance"):
                yield Static("", id="search-importance", markup=False)
            with TabPane("Slice", id="search-tab-slice"):
                yield PlotextFigure(id="search-slice")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.reload()
        self.set_interval(REFRESH_S, self.reload)

    # ---- loading ----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="search-load", exit_on_error=False)
    def reload(self) -> None:
        try:
            from tui_rl.engine.search.study import study_names
            from tui_rl.engine.search.view import load_view

            names = study_names(self.runs_dir)
            name = self.study if self.study in names else (names[0] if names else None)
            view = load_view(self.runs_dir, name, self.view) if name else None
        except ImportError:
            self.app.call_from_thread(self.say, f"Search needs Optuna: {install_line('optuna')}")
            return
        except Exception as exc:  # a locked or damaged database: say so, try again at the next refresh
            self.app.call_from_thread(self.say, f"Cannot read the studies in {self.runs_dir}: {exc}")
            return
        self.app.call_from_thread(self.show, names, view)

    def say(self, text: str) -> None:
        self.query_one("#search-status", Static).update(text)

    def show(self, names: list[str], view: StudyView | None) -> None:
        self.names = names
        if view is None:
            self.say(f"No study in {self.runs_dir} yet. Start one with: tui-rl search PRESET --trials N")
            return
        self.study, self.view = view.name, view
        counts = ", ".join(f"{n} {state}" for state, n in sorted(view.counts().items()))
        best = max((r for r in view.rows if r.value is not None), key=lambda r: r.value, default=None)
        line = f"Study {view.name} ({names.index(view.name) + 1} of {len(names)}): {counts or 'no trials yet'}"
        if best is not None:
            line += f". Best: trial {best.number}, return {best.value:.1f}"
        if view.stopping:
            line += ". Stopped: no new trials start"
        self.say(line)
        self.fill_table(view.rows)
        self.draw()

    def fill_table(self, rows: list[TrialRow]) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row_cells(row), key=str(row.number))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def draw(self) -> None:
        view = self.view
        if view is None:
            return
        for plot_id, draw in (("#search-best", search_plots.draw_best), ("#search-live", search_plots.draw_live)):
            plot = self.query_one(plot_id, PlotextFigure)
            draw(plot.plt, view)
            plot.refresh()
        params = search_plots.slice_params(view)
        slice_plot = self.query_one("#search-slice", PlotextFigure)
        search_plots.draw_slice(slice_plot.plt, view, params[self.param_index % len(params)] if params else None)
        slice_plot.refresh()
        self.query_one("#search-importance", Static).update(search_plots.importance_text(view))

    # ---- the trial under the cursor ---------------------------------------------------------------

    def selected(self) -> TrialRow | None:
        table = self.query_one(DataTable)
        if self.view is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.view.rows if str(r.number) == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.selected()
        if row is None or not row.runs:
            self.notify("This trial has no run folder yet.", title="Cannot open", severity="warning")
            return
        self.app.post_message(OpenRun(self.runs_dir / row.runs[0]))
        self.dismiss()

    def action_prune(self) -> None:
        row = self.selected()
        if row is None or row.state != "running":
            self.notify("Only a running trial can be pruned.", title="Cannot prune", severity="warning")
            return
        if self.app.under_way.begin(REQUEST_TASK, f"Asking the worker of trial {row.number} to prune it"):
            self.request("request_prune", row.number)

    def action_stop_search(self) -> None:
        if self.study is None:
            return

        def answer(yes: bool | None) -> None:
            if yes and self.app.under_way.begin(REQUEST_TASK, f"Stopping the search {self.study}"):
                self.request("request_stop")
                self.notify(f"Stopping {self.study}: running trials are pruned, no new one starts. "
                            f"`tui-rl search --study {self.study} --trials N` goes on.", title="Stop search")

        self.app.push_screen(ConfirmScreen(
            f"Stop the search {self.study}?",
            "Every worker prunes its running trial now and starts no new one.", "Stop"), answer)

    @work(thread=True, group="search-request", exit_on_error=False)
    def request(self, what: str, *args: Any) -> None:
        from tui_rl.engine.search import study as search_study

        try:
            getattr(search_study, what)(search_study.open_study(self.runs_dir, self.study), *args)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot reach the study", severity="error")
            return
        finally:
            self.app.under_way.end(REQUEST_TASK)
        self.app.call_from_thread(self.reload)

    def action_promote(self) -> None:
        from tui_rl.config import ConfigError
        from tui_rl.engine.runs.folder import read_config

        row = self.selected()
        if row is None or not row.runs:
            self.notify("Choose a trial that has a run folder.", title="Cannot save", severity="warning")
            return
        try:
            config = read_config(self.runs_dir / row.runs[0])
        except (ConfigError, OSError) as exc:
            self.notify(str(exc), title="Cannot save", severity="error", markup=False)
            return
        save_as_preset(self.app, config, f"trial {row.number} of search {self.study}", config)

    def action_next_study(self) -> None:
        if len(self.names) > 1 and self.study in self.names:
            self.study = self.names[(self.names.index(self.study) + 1) % len(self.names)]
            self.reload()

    def action_next_param(self) -> None:
        self.param_index += 1
        self.query_one(TabbedContent).active = "search-tab-slice"
        self.draw()

    def action_cycle_view(self, step: int) -> None:
        views = self.query_one(TabbedContent)
        panes = [pane.id for pane in views.query(TabPane)]
        views.active = panes[(panes.index(views.active) + step) % len(panes)]

    def action_close(self) -> None:
        self.dismiss()


def row_cells(row: TrialRow) -> tuple[str, ...]:
    return (
        str(row.number),
        row.state,
        number(row.value),
        number(row.best),
        "" if row.frames is None else f"{row.frames:,}",
        "" if row.pruned_at is None else f"{row.pruned_at:,}",
        " ".join(f"{path.rsplit('.', 1)[-1]}={number(value)}" for path, value in row.params.items()),
    )


def number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) and abs(value) < 1e4 else f"{value:.4g}"
    return str(value)
