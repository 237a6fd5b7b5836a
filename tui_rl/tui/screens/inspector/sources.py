"""Where the inspector can open a rollout from, and why a source cannot be opened now.

Judged from the run folder alone (run.json, the saved rollouts), without torch or a connection:
the list shows at once. Opening one is the engine's :func:`~tui_rl.engine.inspect.rollout_sources.load_source`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui_rl.engine.protocol import FINAL_STATES
from tui_rl.engine.inspect.rollouts import list_rollouts
from tui_rl.engine.runs.folder import RunFolderError, read_summary
from tui_rl.tui.screens.inspector.dialogs import Source


def run_is_live(run_dir: Path | None) -> bool:
    """Whether the run's trainer is up (judged from run.json, without connecting)."""
    if run_dir is None:
        return False
    try:
        summary = read_summary(run_dir)
    except RunFolderError:
        return False
    return summary.pid is not None and summary.status not in FINAL_STATES


def available_sources(run_dir: Path | None, preview_rollout: Any) -> list[Source]:
    """Every source, those that cannot be opened now with the reason."""
    trainer = "" if run_is_live(run_dir) else ("no run yet: s starts one" if run_dir is None else "the run's trainer is not running")
    sources = [
        Source("latest", "Latest episode from the trainer", unavailable=trainer),
        Source("eval", "Evaluation episode of the current policy (played here, with frames)"),
        Source("replay", "Replay buffer sample (transitions, not an episode)", unavailable=trainer),
        Source("preview", "Setup preview (random actions)",
               unavailable="" if preview_rollout is not None else "none yet: p in Setup makes one"),
    ]
    if run_dir is not None:
        sources += [Source("saved", f"Saved: {path.name}", path) for path in list_rollouts(run_dir)]
    return sources
