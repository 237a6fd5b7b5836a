"""The trainer process: ``python -m tui_rl.engine.run.main RUN_DIR [--from-checkpoint] [--lock-fd N]``.

Started by :meth:`RunHandle.spawn` in its own session (or handed its run by a warm trainer,
engine/run/warm.py, which then does what this does), with stdout / stderr going to the run's
``trainer.log`` and the run's lock (``--lock-fd``, see ``liveness.py``) handed over. It ignores
SIGHUP, so a closing terminal or a lost SSH connection does not end the run; SIGTERM / SIGINT
checkpoint and stop it, from the first moment (their handlers exist before torch loads). Exits 0
when the run finished or was stopped, 1 when it failed.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tui_rl.engine.run.stop_signals import StopSignals

STOP_REASONS = {signal.SIGTERM: "terminated (SIGTERM)", signal.SIGINT: "interrupted (SIGINT)"}


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stop_signals = StopSignals(STOP_REASONS)
    parser = argparse.ArgumentParser(prog="tui_rl.engine.run.main")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--from-checkpoint", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--lock-fd", type=int, help="the run's lock, locked by the parent")
    args = parser.parse_args(argv)
    return train(args.run_dir, args.from_checkpoint, args.lock_fd, stop_signals)


def train(run_dir: Path, from_checkpoint: bool, lock_fd: int | None, stop_signals: StopSignals) -> int:
    """Train the run in this process (holding its lock ``lock_fd`` when handed one); the exit code."""
    from tui_rl.engine.runs import liveness
    from tui_rl.engine.run.serve import serve_run

    if lock_fd is not None:
        liveness.adopt(run_dir, lock_fd)
    state = serve_run(run_dir, from_checkpoint=from_checkpoint, stop_signals=stop_signals)
    print(f"run ended: {state}", flush=True)
    return 1 if state == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
