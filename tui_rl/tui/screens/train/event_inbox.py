"""Live events waiting for the UI thread: the Train screen's reader thread puts them, the UI drains them."""

from __future__ import annotations

import threading
from collections import deque

from tui_rl.engine.channel.handle import RunHandle
from tui_rl.engine.protocol import Event


class EventInbox:
    """Events from the reader thread, with the handle they came from, waiting for the UI; ``put``
    says whether the UI needs a nudge (only the first event after a drain does, so messages
    coalesce under load)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: deque[tuple[RunHandle, Event]] = deque()

    def put(self, handle: RunHandle, event: Event) -> bool:
        with self._lock:
            self._events.append((handle, event))
            return len(self._events) == 1

    def drain(self) -> list[tuple[RunHandle, Event]]:
        with self._lock:
            events = list(self._events)
            self._events.clear()
            return events
