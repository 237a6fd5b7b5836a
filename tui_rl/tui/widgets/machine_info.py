"""One line on Setup saying what this machine offers a run (CPU cores, GPUs, a Ray cluster), beside
the backend, workers and device fields. Worked out in a thread: finding GPUs imports torch, which
the app that keeps a warm trainer leaves to that process (engine/channel/warm_trainers.py); and
probing a Ray address may wait a few seconds."""

from __future__ import annotations

from textual import work
from textual.widgets import Static

from tui_rl.engine.channel.warm_trainers import SpareGone, ask_spare
from tui_rl.tui.engine_imports import load_torchrl


class MachineInfo(Static):
    """``This machine: 2 CPU cores · no GPU · no Ray cluster running``."""

    def __init__(self, ray_address: str, *, id: str | None = None) -> None:
        super().__init__("This machine: looking…", id=id, markup=False)
        self.ray_address = ray_address

    def on_mount(self) -> None:
        self.look()

    @work(thread=True, exit_on_error=False, group="machine-info")
    def look(self) -> None:
        try:
            text = self.described() if not self.app.warm_trainer else asked(self.ray_address)
        except Exception as exc:  # an odd driver or network: say so, keep the app up
            text = f"This machine: could not be examined ({type(exc).__name__}: {exc})"
        self.app.call_from_thread(self.update, text)

    def described(self) -> str:
        load_torchrl()
        from tui_rl.engine.run.machine import describe

        return describe(self.ray_address)


def asked(ray_address: str) -> str:
    """The line, worked out in the spare trainer process."""
    try:
        answer = ask_spare({"machine": ray_address})
    except SpareGone as exc:
        return f"This machine: could not be examined ({exc})"
    return answer.get("machine") or f"This machine: could not be examined ({answer.get('failed')})"
