"""A warm trainer: ``python -m tui_rl.engine.run.warm SOCKET_FD``.

Started ahead of time (engine/channel/warm_trainers.py) so that a run starts without waiting for
torch: it imports what a trainer imports, says it is ready, then waits, using no CPU, for
messages on its socket. A request without file descriptors (the checks before a run, an env's
specs: ``engine/run/warm_requests.py``) is answered on the socket, and it waits on. The run
order is the message that carries two: the run folder and whether to continue it, with the run's
lock and its ``trainer.log`` passed as file descriptors. From then on it is the run's trainer, exactly as ``engine/run/main.py`` is: its
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

from tui_rl.engine.channel.warm_trainers import MESSAGE_BYTES, READY


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # it runs in its own session; a run must outlive the terminal
    channel = socket.socket(fileno=int((argv or sys.argv[1:])[0]))
    warm_up()
    try:
        channel.send(READY)
        order, (lock_fd, log_fd) = serve_requests(channel)
    except (OSError, EOFError):
        return 0  # nobody will hand it a run
    finally:
        channel.close()
    for stream in (1, 2):
        os.dup2(log_fd, stream)
    os.close(log_fd)

    from tui_rl.engine.run.main import STOP_REASONS, train
    from tui_rl.engine.run.stop_signals import StopSignals

    return train(Path(order["run_dir"]), bool(order["from_checkpoint"]), lock_fd, StopSignals(STOP_REASONS))


def serve_requests(channel: socket.socket) -> tuple[dict, list[int]]:
    """Answer requests until the run order comes: the order and its two file descriptors.
    EOFError when the socket closes first."""
    from tui_rl.engine.run.warm_requests import answer

    while True:
        message, fds, _, _ = socket.recv_fds(channel, MESSAGE_BYTES, 2)
        if not message:
            raise EOFError("the socket closed")
        if len(fds) == 2:
            return json.loads(message), fds
        for fd in fds:
            os.close(fd)
        channel.send(json.dumps(answer(json.loads(message))).encode())


def warm_up() -> None:
    """Import what every run imports: torch, torchrl, the trainer, its checks and Gymnasium's registry."""
    import gymnasium  # noqa: F401

    import tui_rl.engine.envs.making  # noqa: F401
    import tui_rl.engine.run.dry_run  # noqa: F401
    import tui_rl.engine.run.preflight  # noqa: F401
    import tui_rl.engine.run.serve  # noqa: F401


if __name__ == "__main__":
    sys.exit(main())
