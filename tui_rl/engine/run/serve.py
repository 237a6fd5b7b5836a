"""The trainer process's life: hold the run's lock, open its control socket, build the trainer, train.

``tui-rl train`` (headless), the app's launched trainers (``run/main.py``) and search workers all run a
run through ``serve_run``; the socket itself is ``channel/server.py``'s.
"""

from __future__ import annotations

import os
import queue
from pathlib import Path
from typing import Any, Callable

from tui_rl.engine.channel.server import ControlServer

from tui_rl.config import ConfigError
from tui_rl.engine.protocol import Event
from tui_rl.engine.run.stop_signals import StopSignals
from tui_rl.engine.runs import liveness
from tui_rl.engine.runs import record as run_record
from tui_rl.engine.runs.folder import read_config, refuse_links


def serve_run(
    run_dir: Path,
    *,
    from_checkpoint: bool = False,
    on_event: Callable[[Event], None] | None = None,
    on_trainer: Callable[[Any], None] | None = None,
    stop_signals: StopSignals | None = None,
) -> str:
    """Train the run in ``run_dir`` behind its control socket; returns the final state.

    ``on_event`` sees every event after the clients were sent it; ``on_trainer`` receives the
    Trainer once built, before it runs (to read its counters later). ``stop_signals``, installed
    by the caller as early as it can, stop the trainer (or keep it from starting). This process
    holds the run's lock while it trains (see ``liveness.py``).
    """
    run_dir = Path(run_dir)
    os.umask(0o077)  # everything a trainer writes is owner-only: the run's files, Ray's ~/.ray/auth_token
    signals = stop_signals or StopSignals({})
    refuse_links(run_dir)  # before anything in the folder is opened for writing
    liveness.hold(run_dir)
    commands: queue.Queue = queue.Queue()
    server = ControlServer(run_dir, lambda command, reply: commands.put((command, reply)))
    try:
        try:
            config = read_config(run_dir)
        except ConfigError as exc:
            server.broadcast(run_record.record_state(run_dir, "failed", str(exc)))
            return "failed"
        from tui_rl.engine.run.trainer import (
            Trainer,  # torch loads here, after the socket is up
        )

        run_record.plain_library_log()

        if signals.reason:  # stopped while torch loaded: nothing was built, nothing to save
            server.broadcast(run_record.record_state(run_dir, "stopped", signals.reason))
            return "stopped"

        def broadcast(event: Event) -> None:
            server.broadcast(event)
            if on_event is not None:
                on_event(event)

        trainer = Trainer(config, run_dir, broadcast, from_checkpoint=from_checkpoint, commands=commands)
        if on_trainer is not None:
            on_trainer(trainer)
        signals.attach(trainer)
        return trainer.run()
    finally:
        signals.detach()
        server.close()
        liveness.release(run_dir)
