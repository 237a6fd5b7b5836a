"""Stop signals for a training process, handled from its first moment.

Installed before anything heavy is imported (``tui_rl.config``, torch), so a SIGTERM in a run's
first seconds still ends it in a clean ``stopped`` state. Imports nothing of tui_rl.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable


class StopSignals:
    """Stop handlers, installed before torch loads (from the main thread).

    The first signal asks the trainer to checkpoint and stop after the current batch (or, before
    there is a trainer, to stop as soon as one could start); a second one says so again and is
    otherwise harmless, since raising into whatever code runs (torch's included) could turn a clean
    stop into a failure; a third ends the process at once. The handler only writes to a pipe: a
    relay thread calls ``trainer.stop``, as the handler could interrupt the main thread inside the
    very queue lock ``stop`` needs.
    """

    FORCE_AFTER = 3

    def __init__(self, reasons: dict[int, str], on_signal: Callable[[int], None] | None = None) -> None:
        self.reasons = reasons
        self.on_signal = on_signal  # runs in the handler: set a flag, take no lock
        self.reason = ""
        self.count = 0
        self.trainer: Any = None
        if not reasons:
            return
        self.wake_read, self.wake_write = os.pipe()
        threading.Thread(target=self.relay, name="stop-signals", daemon=True).start()
        for signum in reasons:
            signal.signal(signum, self.handle)

    def handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        self.reason = self.reason or self.reasons[signum]
        if self.on_signal is not None:
            self.on_signal(signum)
        if self.count >= self.FORCE_AFTER:
            os.write(2, f"{self.reasons[signum]} again: exiting at once\n".encode())
            os._exit(128 + signum)
        if self.count > 1:
            os.write(2, b"stopping after the current batch; one more signal exits at once\n")
        os.write(self.wake_write, b"!")

    def relay(self) -> None:
        while os.read(self.wake_read, 1):
            if self.trainer is not None:
                self.trainer.stop(self.reason)

    def attach(self, trainer: Any) -> None:
        self.trainer = trainer
        if self.reason:
            trainer.stop(self.reason)

    def detach(self) -> None:
        """Forget the trainer once its run has ended: the relay thread lives to the process's exit
        and would keep the trainer, and its envs' native emulators, alive until then."""
        self.trainer = None
