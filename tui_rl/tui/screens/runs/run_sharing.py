"""Taking a run elsewhere from the Runs screen: the line that sets it up again, copied to the
clipboard (OSC 52, so it reaches the local clipboard over SSH too), and its policy exported to a
file (:class:`~tui_rl.tui.screens.runs.export.ExportScreen`)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from tui_rl.config import ConfigError
from tui_rl.engine.runs.external import EXTERNAL
from tui_rl.engine.runs.reproduce import reproduce_text
from tui_rl.engine.runs.folder import RunFolderError, RunSummary


def refused_external(app: App, run: RunSummary, what: str) -> bool:
    if run.status == EXTERNAL:
        app.notify(f"{run.name} is a {run.preset} run from another tool: tui-rl has no {what} of it.",
                   title="Not a tui-rl run", severity="warning", markup=False)
    return run.status == EXTERNAL


def copy_setup_line(app: App, run: RunSummary) -> None:
    """Copy ``tui-rl train PRESET --set ...`` (and the run's live changes, as comments)."""
    if refused_external(app, run, "setup"):
        return
    try:
        text = reproduce_text(Path(run.path))
    except (ConfigError, RunFolderError, OSError) as exc:
        app.notify(f"Cannot write {run.name}'s setup: {exc}", severity="error", markup=False)
        return
    app.copy_to_clipboard(text)
    line, *comments = text.splitlines()
    live = sum(1 for comment in comments if comment.startswith("#   at "))
    after = f" — and its {live} live change(s) as comments" if live else ""
    app.notify(f"{line}{after}", title="Copied to the clipboard", timeout=8, markup=False)


def export_policy_dialog(app: App, run: RunSummary) -> None:
    from tui_rl.tui.screens.runs.export import ExportScreen

    if not refused_external(app, run, "policy"):
        app.push_screen(ExportScreen(Path(run.path)))
