"""A lost terminal is a hangup, whatever started the app.

Launched as the terminal's session leader (`tui-rl` in a tmux pane or an SSH shell), the app gets
SIGHUP when the terminal goes. Launched under another process (`make run`), only that process gets
SIGHUP; the app's terminal is hung up under it, reads return end-of-file at once (Textual's input
thread then spins at 100% of a core) and writes fail. So besides SIGHUP, a watchdog thread polls the
terminal's file descriptors for a hangup or an error and treats that the same way.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
import threading
from collections.abc import Callable

#: how often the watchdog wakes to see whether it should stop; a hangup wakes it at once
POLL_MS = 500
LOST = select.POLLHUP | select.POLLERR | select.POLLNVAL


class HangupWatch:
    """Calls ``on_hangup`` (from any thread) on SIGHUP or when the terminal is lost."""

    def __init__(self, on_hangup: Callable[[], None]) -> None:
        self.on_hangup = on_hangup
        self._stop = threading.Event()

    def start(self, fds: list[int]) -> None:
        """Catch SIGHUP, and watch the terminal file descriptors ``fds`` (see :func:`terminal_fds`)."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.on_hangup)
        except (NotImplementedError, RuntimeError, AttributeError):
            pass  # not the main thread, or no SIGHUP on this platform
        if fds:
            self.watch_terminal(fds)

    def watch_terminal(self, fds: list[int]) -> None:
        """Start the watchdog thread over ``fds``; it ends at a hangup or at :meth:`stop`."""
        threading.Thread(target=self._watch, args=(fds,), name="tui-rl-hangup-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        try:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, AttributeError):
            pass

    def _watch(self, fds: list[int]) -> None:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, 0)  # no data events: only hangup, error and invalid are reported
        while not self._stop.is_set():
            if any(events & LOST for _fd, events in poller.poll(POLL_MS)):
                if not self._stop.is_set():
                    self.on_hangup()
                return


def terminal_fds() -> list[int]:
    """The app's standard streams that are terminals now (a pipe or a file is not watched)."""
    fds = []
    for stream in (sys.__stdin__, sys.__stdout__, sys.__stderr__):
        try:
            fd = stream.fileno()
        except (AttributeError, ValueError, OSError):
            continue
        if os.isatty(fd) and fd not in fds:
            fds.append(fd)
    return fds
