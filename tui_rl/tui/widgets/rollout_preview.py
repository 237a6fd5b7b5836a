"""A short episode of the transformed env with random actions, as the tutorial prints it: a table
of the per-step scalars, then the TensorDict; or why it could not run.

Making the rollout builds the env, so it imports torch: it runs in a thread worker, and a newer
preview supersedes an older one.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui_rl.config import RunConfig
from tui_rl.tui.engine_imports import load_torchrl

PREVIEW_STEPS = 100
HINT = "p runs a short episode of the transformed env and shows it here."


def describe_rollout(td: Any) -> Group:
    """The per-step scalars as a table (the counters first), a blank line, then the TensorDict."""
    steps = step_count(td)
    columns: dict[str, list[str]] = {"step": [str(i + 1) for i in range(steps)]}
    leaves = td.keys(include_nested=True, leaves_only=True)
    after_step = [key for key in leaves if isinstance(key, tuple)]  # the ("next", ...) entries
    # The counters first: they show what the stack does (StepCounter's step_count 1..N).
    after_step.sort(key=lambda key: (not key[-1].endswith("count"), not key[-1].endswith("reward"), key))
    for key in [("action",), *after_step]:
        if key not in td.keys(include_nested=True):
            continue
        values = td.get(key).reshape(steps, -1)
        if values.shape[-1] > 3:
            continue
        columns[key[-1]] = [format_values(row.tolist()) for row in values]
    table = Table(box=None, padding=(0, 1), collapse_padding=True, pad_edge=False, header_style="bold")
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for i in range(steps):
        table.add_row(*(column[i] for column in columns.values()))
    return Group(table, Text(""), Text(str(td), style="dim"))


def step_count(td: Any) -> int:
    return td.batch_size[0] if td.batch_dims else 1


def format_values(values: list[Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, bool):
            return "✓" if v else "·"
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return one(values[0]) if len(values) == 1 else "[" + ", ".join(map(one, values)) + "]"


class RolloutPreview(ScrollableContainer):
    """Scrolls both ways: TensorDict lines are long and are not wrapped."""

    class Finished(Message):
        """A preview ended (posted from its worker): a rollout, or the reason there is none."""

        def __init__(
            self, preview: RolloutPreview, rollout: Any, rendered: Group | None, error: str
        ) -> None:
            super().__init__()
            self.preview = preview
            self.rollout = rollout
            self.rendered = rendered
            self.error = error

        @property
        def control(self) -> RolloutPreview:
            return self.preview

    def compose(self) -> ComposeResult:
        self.border_title = "Preview"
        yield Static(HINT, id="preview-output", markup=False)

    def run(self, config: RunConfig) -> None:
        self.border_title = "Preview"
        self.query_one("#preview-output", Static).update(
            Text(f"Running {config.env.id} with random actions…", style="italic")
        )
        self.make_rollout(config)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def make_rollout(self, config: RunConfig) -> None:
        rollout, rendered, error = None, None, ""
        try:
            load_torchrl()
            from tui_rl.engine.envs.making import preview_rollout

            rollout = preview_rollout(config, max_steps=PREVIEW_STEPS)
            rendered = describe_rollout(rollout)
        except ValueError as exc:  # ConfigError / EnvError: readable already
            error = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if not get_current_worker().is_cancelled:
            self.post_message(self.Finished(self, rollout, rendered, error))

    def on_rollout_preview_finished(self, message: Finished) -> None:
        # Runs before the message bubbles to the screen, which keeps the rollout.
        output = self.query_one("#preview-output", Static)
        output.set_class(bool(message.error), "-error")
        if message.error:
            output.update(Text(f"Preview failed: {message.error}"))
            return
        # The heading goes in the border: at 80x24 every line inside is a row of the table.
        self.border_title = (
            f"Preview: {step_count(message.rollout)} steps with random actions "
            "(values after each step)"
        )
        output.update(message.rendered)
