"""Keys that start something long (a run starting or continuing, a branch, a seed group, a video):
the app says at once what is under way, and a repeat press is refused while the first is under
way, so an impatient second press never makes a second branch or run. (An export runs inside its
dialog, which says so and disables its buttons meanwhile.)

The app holds one :class:`UnderWay`; a screen calls :meth:`UnderWay.begin` on the UI thread when the
key is taken and :meth:`UnderWay.end` (from any thread) when the work is done, failed or cancelled.
"""

from __future__ import annotations

import threading

from textual.app import App


class UnderWay:
    """The long tasks under way, one of each kind at a time."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._tasks: dict[str, str] = {}
        self._lock = threading.Lock()  # end() is called from thread workers

    def begin(self, kind: str, what: str) -> bool:
        """Say that ``what`` (``"Branching run X"``) is under way and return True; while a task of
        ``kind`` is under way already, say that one is and return False."""
        with self._lock:
            running = self._tasks.get(kind)
            if running is None:
                self._tasks[kind] = what
        if running is not None:
            self.app.notify(f"{running}… is under way: wait for it.", title="Busy", severity="warning",
                            markup=False)
            return False
        self.app.notify(f"{what}…", title="Under way", markup=False)
        return True

    def step(self, kind: str, what: str) -> None:
        """The task of ``kind`` goes on with a long step: say ``what`` it does now (UI thread)."""
        with self._lock:
            self._tasks[kind] = what
        self.app.notify(f"{what}…", title="Under way", markup=False)

    def end(self, kind: str) -> None:
        """The task of ``kind`` is over (done, failed or cancelled); from any thread."""
        with self._lock:
            self._tasks.pop(kind, None)
