"""The trainer process: ``python -m tui_rl.engine.trainer_main RUN_DIR [--resume]``.

Started by :meth:`RunHandle.start` in its own session, with stdout / stderr going to the run's
``trainer.log``. It ignores SIGHUP, so a closing terminal or a lost SSH connection does not end
the run; SIGTERM / SIGINT checkpoint and stop it. Exits 0 when the run finished or was stopped,
1 when it failed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tui_rl.engine.trainer_main")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    os.umask(0o077)  # everything the trainer writes is owner-only

    from tui_rl.engine.server import install_stop_signals, serve_run

    reasons = {signal.SIGTERM: "terminated (SIGTERM)", signal.SIGINT: "interrupted (SIGINT)"}
    state = serve_run(
        args.run_dir, resume=args.resume, on_trainer=lambda trainer: install_stop_signals(trainer, reasons)
    )
    print(f"run ended: {state}", flush=True)
    return 1 if state == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
