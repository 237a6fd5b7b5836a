"""The Runs screen: every run folder (branches under their parent, seed groups heading their
runs), opened in Train with Enter; mark two or more runs or groups (space) to draw them on one
chart, ``=`` with two marked shows what differs; ``/`` filters by any config field
(``optim.lr<0.001``); ``b`` branches the run under the cursor; continue a stopped or crashed run,
delete or archive one (asked first). Folders are read in thread workers and re-listed every few
seconds while the screen is shown, so live runs move on in the table."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from tui_rl.engine.runs.external import EXTERNAL, external_summaries
from tui_rl.engine.protocol import FINAL_STATES
from tui_rl.engine.runs.filter import FilterError, parse_filter
from tui_rl.engine.runs.folder import RunSummary, list_runs
from tui_rl.tui.screens.branch.flow import BranchFlow
from tui_rl.tui.messages import ContinueRun, OpenRun
from tui_rl.tui.screens.train.run_opening import NOT_CONTINUABLE, can_continue
from tui_rl.tui.screens.runs.run_rows import RunRow, run_rows
from tui_rl.tui.screens.runs.run_sharing import copy_setup_line, export_policy_dialog
from tui_rl.tui.screens.confirm import ConfirmScreen
from tui_rl.tui.widgets.fitting_footer import FittingFooter
from tui_rl.tui.screens.runs.run_comparison import RunComparison
from tui_rl.tui.screens.runs.run_list import RunList

REFRESH_SECONDS = 3.0
OVERLAY_HINT = "Mark two or more runs or groups with space to draw them on one chart; = shows what differs."
#: archived runs move here, inside the runs folder: out of the list, still on disk
ARCHIVE_DIR = "archive"


def archive_run(run_dir: Path) -> Path:
    """Move a run folder into the runs folder's archive; returns where it went."""
    archive = run_dir.parent / ARCHIVE_DIR
    archive.mkdir(exist_ok=True)
    target = archive / run_dir.name
    if target.exists():
        raise FileExistsError(f"{target} exists already")
    return run_dir.rename(target)


class RunsScreen(Screen):
    """Run folders under the app's runs directory, and an overlay of the marked runs' returns."""

    CSS_PATH = ["runs.tcss", "run_list.tcss", "run_comparison.tcss"]
    BINDINGS = [
        # Out of the footer (the note line names them) so that q Quit fits in 80 columns.
        Binding("r", "continue_run", "Continue", id="runs.continue", show=False),
        Binding("d", "delete_run", "Delete", id="runs.delete", show=False),
        Binding("a", "archive_run", "Archive", id="runs.archive", show=False),
        Binding("ctrl+r", "refresh_runs", "Refresh", id="runs.refresh", show=False),
        Binding("c", "copy_setup", "Copy setup line", id="runs.copy_setup", show=False),
        Binding("e", "export_policy", "Export policy", id="runs.export", show=False),
        Binding("b", "branch_run", "Branch", id="runs.branch", show=False),
        Binding("slash", "filter_runs", "Filter", key_display="/", id="runs.filter", show=False),
        Binding("equals_sign", "diff_runs", "Diff", key_display="=", id="runs.diff", show=False),
    ]

    class RunsListed(Message):
        """The run folders as read from disk, as the table's rows (filtered); ``note`` says what
        the filter matched, ``error`` why the folder could not be listed."""

        def __init__(self, runs: list[RunSummary], rows: list[RunRow], note: str = "", error: str = "") -> None:
            super().__init__()
            self.runs = runs
            self.rows = rows
            self.note = note
            self.error = error

    class RunRemoved(Message):
        """A run folder was deleted or archived (``error`` says why not)."""

        def __init__(self, what: str, error: str = "") -> None:
            super().__init__()
            self.what = what
            self.error = error

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-note", markup=False)
        yield RunList(id="run-list")  # first: it has the focus when the screen opens
        yield Input(placeholder="filter: optim.lr<0.001 env.id=CartPole-v1 status=finished (Enter; empty: all)",
                    id="runs-filter")
        yield Static(OVERLAY_HINT, id="overlay-hint")
        yield RunComparison(id="comparison")
        yield FittingFooter()

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[Path, RunSummary] = {}
        self.filter_text = ""
        self.branching = BranchFlow(self)

    def on_mount(self) -> None:
        self.query_one(RunComparison).display = False
        self.query_one("#runs-filter").display = False
        self.action_refresh_runs()
        self.set_interval(REFRESH_SECONDS, self._refresh_if_shown)

    def on_screen_resume(self) -> None:
        self.action_refresh_runs()

    def _refresh_if_shown(self) -> None:
        if self.is_current:
            self.action_refresh_runs()

    def action_refresh_runs(self) -> None:
        self._list_runs(Path(self.app.runs_dir))

    @work(thread=True, exclusive=True, group="list-runs", exit_on_error=False)
    def _list_runs(self, runs_dir: Path) -> None:
        try:
            runs = list_runs(runs_dir) + external_summaries(runs_dir)
            terms = parse_filter(self.filter_text)
            rows, note = run_rows(runs, terms)
        except FilterError as exc:
            self.post_message(self.RunsListed([], [], error=f"filter: {exc}"))
            return
        except Exception as exc:  # an unreadable folder is said, not raised
            self.post_message(self.RunsListed([], [], error=f"cannot list {runs_dir}: {exc}"))
            return
        if terms and not note:
            shown = sum(row.run is not None for row in rows)
            note = f"{shown} of {len(runs)} match {self.filter_text}"
        self.post_message(self.RunsListed(runs, rows, note))

    def on_runs_screen_runs_listed(self, message: RunsListed) -> None:
        note = self.query_one("#runs-note", Static)
        if message.error:
            note.update(message.error)
            return
        self.runs = {Path(run.path): run for run in message.runs}
        count = len(message.runs)
        note.update(
            (message.note or f"{count} run{'s' if count != 1 else ''} in {self.app.runs_dir}")
            + (" · Enter opens · b branches · / filters" if count else " · s starts one")
        )
        run_list = self.query_one(RunList)
        run_list.show_rows(message.rows)
        marked = run_list.marked_rows
        if len(marked) >= 2 and any(run.status not in FINAL_STATES for row in marked for run in row_runs(row)):
            self.query_one(RunComparison).compare(marked)  # live curves move on

    def on_open_run(self, message: OpenRun) -> None:
        run = self.runs.get(message.run_dir)
        if run is not None and run.status == EXTERNAL:  # another tool's run: nothing to open in Train
            message.stop()
            self.notify(f"{run.name} is a {run.preset} run from another tool: mark it (space) to overlay "
                        "its return curve.", title="Not a tui-rl run", markup=False)

    # ---- copy the setup line, export the policy (tui/screens/runs/run_sharing.py) ---------------------------

    def action_copy_setup(self) -> None:
        run = self._chosen()
        if run is not None:
            copy_setup_line(self.app, run)

    def action_export_policy(self) -> None:
        run = self._chosen()
        if run is not None:
            export_policy_dialog(self.app, run)

    # ---- filter, branch, diff -------------------------------------------------------------------

    def action_filter_runs(self) -> None:
        field = self.query_one("#runs-filter", Input)
        field.display = True
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.filter_text = event.value.strip()
        if not self.filter_text:
            event.input.display = False
        self.query_one(RunList).focus()
        self.action_refresh_runs()

    def action_branch_run(self) -> None:
        run = self._chosen()
        if run is not None:
            self.branching.start(Path(run.path))

    def action_diff_runs(self) -> None:
        marked = self.query_one(RunList).marked_rows
        if len(marked) != 2:
            self.notify("Mark exactly two runs or groups (space) to see what differs.", title="Diff",
                        severity="warning", markup=False)
            return
        from tui_rl.tui.screens.runs.run_diff import RunDiffScreen

        self.app.push_screen(RunDiffScreen(*marked))

    # ---- continue, delete, archive the run under the cursor ------------------------------------

    def _chosen(self) -> RunSummary | None:
        run_dir = self.query_one(RunList).cursor_run_dir
        return None if run_dir is None else self.runs.get(run_dir)

    def action_continue_run(self) -> None:
        run = self._chosen()
        if run is None:
            return
        if not can_continue(run.status, run.frames, run.total_frames):
            self.notify(f"Run {run.name} is {run.status}: {NOT_CONTINUABLE}.",
                        title="Cannot continue", severity="warning", markup=False)
            return
        self.post_message(ContinueRun(Path(run.path)))

    def action_delete_run(self) -> None:
        self._remove("Delete", "Its folder and everything in it (checkpoints, metrics, rollouts) is deleted.",
                     lambda run_dir: shutil.rmtree(run_dir))

    def action_archive_run(self) -> None:
        self._remove("Archive", f"Its folder moves to {Path(self.app.runs_dir) / ARCHIVE_DIR}: out of this list, kept on disk.",
                     archive_run)

    def _remove(self, verb: str, detail: str, remove) -> None:
        run = self._chosen()
        if run is None:
            return
        if run.status not in FINAL_STATES:
            self.notify(f"Run {run.name} is {run.status}: stop it first.", title=f"Cannot {verb.lower()}",
                        severity="warning", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove_worker(Path(run.path), remove, f"{verb.lower()}d run {run.name}")

        self.app.push_screen(ConfirmScreen(f"{verb} run {run.name}?", detail, f"{verb} it"), answered)

    @work(thread=True, group="remove-run", exit_on_error=False)
    def _remove_worker(self, run_dir: Path, remove, what: str) -> None:
        try:
            remove(run_dir)
        except Exception as exc:  # a folder that cannot go is said, not raised
            self.post_message(self.RunRemoved(what, str(exc)))
            return
        self.post_message(self.RunRemoved(what))

    def on_runs_screen_run_removed(self, message: RunRemoved) -> None:
        if message.error:
            self.notify(f"Could not do it: {message.error}", severity="error", markup=False)
        else:
            self.notify(message.what.capitalize(), markup=False)
        self.action_refresh_runs()

    def on_run_list_marks_changed(self, message: RunList.MarksChanged) -> None:
        comparison = self.query_one(RunComparison)
        wide = len(message.rows) >= 2 or any(row.group is not None for row in message.rows)
        comparison.display = wide
        self.query_one("#overlay-hint", Static).display = not wide
        if wide:
            comparison.compare(message.rows)


def row_runs(row: RunRow) -> list[RunSummary]:
    return row.group.runs if row.group is not None else [row.run]
