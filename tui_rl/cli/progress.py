"""The headless progress bar of ``tui-rl train``, and the lines it prints above itself."""

from __future__ import annotations

from typing import Any

from tui_rl.config.metrics import EPISODE_RETURN, FPS


class TrainingProgress:
    """The headless progress bar: frames, frames/s, last episode return, last evaluation return;
    status changes, hyperparameter changes, checkpoints and warnings print above it."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        # The bar takes what the text leaves: at 80 columns every number and the clock still show.
        self.progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(bar_width=None),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
            TextColumn("{task.fields[fps]:>6} fps"),
            TextColumn("return {task.fields[ret]:>6}"),
            TextColumn("eval {task.fields[eval]:>6}"),
            TimeElapsedColumn(),
            console=console,
            expand=True,
        )
        self.task = None

    def __enter__(self) -> TrainingProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.stop()

    def warn(self, message: Warning | str, category: type, *location: Any, **kwargs: Any) -> None:
        """A Python warning as one line above the bar, not a multi-line dump through it."""
        text = " ".join(str(message).split())
        self.progress.console.print(f"warning: {text}", markup=False, highlight=False)

    def start(self, total_frames: int) -> None:
        self.task = self.progress.add_task("starting", total=total_frames, fps="-", ret="-", eval="-")

    def update(self, event: Any) -> None:
        from tui_rl.engine import protocol as p

        if self.task is None:
            return
        fields: dict[str, Any] = {"completed": event.frames}
        if isinstance(event, p.Metrics):
            if FPS.name in event.values:
                fields["fps"] = f"{event.values[FPS.name]:,.0f}"
            if EPISODE_RETURN.name in event.values:
                fields["ret"] = f"{event.values[EPISODE_RETURN.name]:.1f}"
        elif isinstance(event, p.Evaluated):
            fields["eval"] = f"{event.mean_return:.1f}"
        elif isinstance(event, p.StatusChanged):
            fields["description"] = event.state
            fields["total"] = event.total_frames or None
        elif isinstance(event, (p.Log, p.HparamsChanged, p.HparamsRejected, p.Checkpointed)):
            self.progress.console.print(f"[{event.frames:,}] {describe(event)}", markup=False, highlight=False)
        self.progress.update(self.task, **{k: v for k, v in fields.items() if v is not None})


def describe(event: Any) -> str:
    from tui_rl.engine import protocol as p

    if isinstance(event, p.Log):
        return f"{event.level}: {event.message}" if event.level != "info" else event.message
    if isinstance(event, p.HparamsChanged):
        return "hyperparameters: " + ", ".join(f"{k} = {v}" for k, v in event.changes.items())
    if isinstance(event, p.HparamsRejected):
        return f"hyperparameters refused: {event.reason}"
    return f"checkpoint: {event.path}"
