"""A warm trainer: ``python -m tui_rl.engine.run.warm SOCKET_FD``.

Started ahead of time (engine/channel/warm_trainers.py) so that a run starts without waiting for
torch: it imports what a trainer imports, says it is ready, then waits, using no CPU, for one
message on its socket: the run folder and whether to continue it, with the run's lock and its
``trainer.log`` passed as file descriptors. From then on it is the run's trainer, exactly as ``engine/run/main.py`` is: its
output goes to the log, it holds the lock, it ignores SIGHUP and stops cleanly on SIGTERM / SIGINT.
When the socket closes unused (the app that started it is gone, however it went), it exits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

from tui_rl.engine.channel.warm_trainers import READY

#: the largest hand-over message: a run folder's path and a flag
MESSAGE_BYTES = 65_536


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # it runs in its own session; a run must outlive the terminal
    channel = socket.socket(fileno=int((argv or sys.argv[1:])[0]))
    warm_up()
    try:
        channel.send(READY)
        message, fds, _, _ = socket.recv_fds(channel, MESSAGE_BYTES, 2)
    except OSError:
        return 0
    finally:
        channel.close()
    if not message or len(fds) != 2:
        return 0  # nobody will hand it a run
    order = json.loads(message)
    lock_fd, log_fd = fds
    for stream in (1, 2):
        os.dup2(log_fd, stream)
    os.close(log_fd)

    from tui_rl.engine.run.main import STOP_REASONS, train
    from tui_rl.engine.run.stop_signals import StopSignals

    return train(Path(order["run_dir"]), bool(order["from_checkpoint"]), lock_fd, StopSignals(STOP_REASONS))


def warm_up() -> None:
    """Import what every run imports: torch, torchrl, the trainer and Gymnasium's registry."""
    import gymnasium  # noqa: F401

    import tui_rl.engine.envs.making  # noqa: F401
    import tui_rl.engine.run.serve  # noqa: F401


if __name__ == "__main__":
    sys.exit(main())
