"""The inspector: step through a rollout TensorDict frame by frame, or drive an env by hand.

Rollouts come from the running trainer (its latest episode, a replay buffer sample), from an
evaluation episode of the current policy played here (so it has frames), from the run folder
(saved rollouts) and from the setup's transforms preview. A live env takes one step per key, by
the policy, by an action the user picks, or at random; each step grows the rollout on screen.

Torch is only touched in workers and through the rollout objects they hand over: this module
loads without it. The trainer is asked for rollouts and weights through the inspector's own
RunHandle; it answers between batches, so stepping here never pauses training. The live env's
steps run in a thread worker too (:mod:`inspector_live`), in the order their keys were pressed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static

from tui_rl.config import RunConfig
from tui_rl.engine.envs.observation_image import is_image_shape
from tui_rl.tui.screens.inspector.dialogs import Source, SourcePicker
from tui_rl.tui.screens.inspector.live import LiveDriver, LiveEnvPanel, reason
from tui_rl.tui.screens.inspector.sources import available_sources
from tui_rl.tui.widgets.fitting_footer import FittingFooter
from tui_rl.tui.widgets.frame_view import FrameView
from tui_rl.tui.widgets.step_table import StepTable, episode_ends
from tui_rl.tui.widgets.tensordict_tree import TensorDictTree
from tui_rl.tui.engine_imports import load_torchrl

#: from this terminal size on, the frame, the step and the TensorDict tree show at once
WIDE_SIZE = (120, 36)
PIXELS_KEY = "pixels"
OBSERVATION_KEY = "observation"
LIVE_ACTIONS = {"step_policy", "step_random", "reset_env", "refresh_weights"}
#: the app's task under way (tui/under_way.py) while V records a video: one at a time
RECORD_TASK = "record"
NO_FRAMES = "no frames in this rollout: the trainer's envs do not render.\nOpen an evaluation episode (o) or a live env (l) to see them."
#: on a live env with discrete actions the digits take actions, so the modes are reached by ctrl+p
ACTION_HELP = "(live env; modes: ctrl+p, or l to close it)"


def drawable(steps: Any) -> Any:
    """What the frame view draws of a rollout (or of one step): the rendered frames, else an
    image observation (what an image env's policy sees); None when neither is there."""
    frames = steps.get(PIXELS_KEY, None)
    if frames is not None:
        return frames
    observation = steps.get(OBSERVATION_KEY, None)
    per_step = tuple(observation.shape[len(steps.batch_size):]) if observation is not None else ()
    return observation if is_image_shape(per_step) else None


def dropped_note(dropped: int) -> str:
    return f" ({dropped:,} older dropped)" if dropped else ""


class InspectorScreen(LiveEnvPanel, Screen):
    """A rollout at one step: the rendered frame, the step's entries and the TensorDict's keys."""

    CSS_PATH = "inspector.tcss"
    # Most useful first: at 80 columns the footer shows what fits in this order (a live env's keys
    # only show while one is open).
    BINDINGS = [
        Binding("p", "step_policy", "Policy step", id="inspect.policy_step"),
        Binding("r", "step_random", "Random", id="inspect.random_step"),
        Binding("0", "act(0)", "Action", key_display="0-9", tooltip=f"Action 0-9 {ACTION_HELP}", id="inspect.action0"),
        *(Binding(str(i), f"act({i})", f"Action {i} {ACTION_HELP}", show=False, id=f"inspect.action{i}") for i in range(1, 10)),
        Binding("a", "enter_action", "Action…", id="inspect.enter_action"),
        Binding("R", "reset_env", "Reset", id="inspect.reset"),
        Binding("g", "drive_agent", "Drive agent", tooltip="Act for the next agent; the policy drives the rest",
                id="inspect.drive_agent"),
        # priority: the tree would otherwise take ←/→/home/end for scrolling
        Binding("left", "step(-1)", "Step", key_display="←/→", priority=True, id="inspect.back"),
        Binding("right", "step(1)", "Step forward", show=False, priority=True, id="inspect.forward"),
        Binding("shift+left", "step(-10)", "10 steps back", show=False, priority=True, id="inspect.back10"),
        Binding("shift+right", "step(10)", "10 steps forward", show=False, priority=True, id="inspect.forward10"),
        Binding("home", "first", "First step", show=False, priority=True, id="inspect.first"),
        Binding("end", "last", "Last step", show=False, priority=True, id="inspect.last"),
        Binding("N", "previous_done", "Previous done", show=False, id="inspect.previous_done"),
        Binding("o", "open", "Open", id="inspect.open"),
        Binding("l", "live", "Live env", id="inspect.live"),
        Binding("n", "next_done", "Next done", id="inspect.next_done"),
        Binding("u", "refresh_weights", "Fresh weights", show=False, id="inspect.weights"),
        Binding("w", "save", "Save", id="inspect.save"),
        Binding("V", "record_video", "Record video", show=False, id="inspect.record"),
        Binding("v", "toggle_view", "View", id="inspect.view"),
        Binding("f", "next_layer", "Next frame of the stack", show=False, id="inspect.next_layer"),
    ]

    class RolloutOpened(Message):
        """A worker opened a rollout (``session``: the live env it belongs to, if any)."""

        def __init__(self, rollout: Any, description: str, kind: str, session: Any = None) -> None:
            super().__init__()
            self.rollout = rollout
            self.description = description
            self.kind = kind
            self.session = session

    class Failed(Message):
        """A worker could not do its job; ``reason`` says why."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    class Saved(Message):
        """The rollout (or a recorded video: ``what``) was saved to ``path``, without the
        ``skipped`` entries (those that are not tensors)."""

        def __init__(self, path: Path, what: str = "rollout", skipped: list[str] | None = None) -> None:
            super().__init__()
            self.path = path
            self.what = what
            self.skipped = skipped or []

    def __init__(self) -> None:
        super().__init__()
        self.rollout: Any = None
        self.kind = ""
        self.description = ""
        self.step = 0
        self.driver: LiveDriver | None = None
        self.view = "step"  # on small terminals: "step" (frame + step) or "tensordict"
        self.last_action = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="inspector-status")
        with Horizontal(id="inspector-top"):
            yield FrameView(id="frame")
            yield StepTable(id="step-table")
        yield TensorDictTree(id="tensordict")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.update_layout()
        self.show_step()

    def on_screen_resume(self) -> None:
        if self.rollout is None and self.session is None and self.app.preview_rollout is not None:
            self.action_open_preview()

    def on_resize(self) -> None:
        self.update_layout()

    def on_unmount(self) -> None:
        self.close_session()

    # ---- layout and drawing ---------------------------------------------------------------------

    @property
    def compact(self) -> bool:
        return self.size.width < WIDE_SIZE[0] or self.size.height < WIDE_SIZE[1]

    def update_layout(self) -> None:
        self.set_class(self.compact, "-compact")
        self.set_class(self.compact and self.view == "tensordict", "-tensordict-view")
        self.refresh_bindings()

    @property
    def length(self) -> int:
        return self.rollout.batch_size[0] if self.rollout is not None and self.rollout.batch_size else 0

    def show_step(self) -> None:
        frame_view = self.query_one(FrameView)
        if self.length:
            self.step = max(0, min(self.step, self.length - 1))
            frames = drawable(self.rollout)
            note = "this env does not render frames" if self.session is not None else NO_FRAMES
            frame_view.show(frames[self.step] if frames is not None else None, note)
            self.query_one(StepTable).show(self.rollout, self.step, transitions=self.kind == "replay")
            self.query_one(TensorDictTree).show(self.rollout, self.step)
        elif self.session is not None:  # a live env before its first step: the reset frame
            frame_view.show(drawable(self.session.current), "this env does not render")
            # not the steps of the rollout open before, as if they were this env's
            self.query_one(StepTable).show(self.rollout, 0, "the env is reset: p, r or an action takes a step")
        else:
            frame_view.show(None, "press o to open a rollout, or l to drive a live env")
        self.query_one("#inspector-status", Static).update(self.status_text())

    def status_text(self) -> str:
        if self.session is not None:
            env_id = self.session.config.env.id
            if self.session.kind == "discrete":  # the digits act: say how the modes are reached
                keys = f"0-{self.session.action_count - 1} action · R reset · l close · ^p modes"
            else:
                keys = f"a action ({self.session.describe_actions()}) · R reset · l close"
            if self.session.seats:  # a multi-agent env: who the keys act for
                driven = self.session.driven
                keys = f"g agent ({driven.label if driven else 'none: the policy drives all'}) · {keys}"
            return (
                f"[b]LIVE[/b] {env_id} · {self.length} steps{dropped_note(self.session.steps.dropped)} · "
                f"policy: {self.session.weights_note}\n"
                f"p policy · r random · {keys}"  # fits 80 columns
            )
        if self.rollout is None:
            return "No rollout open: o opens one (trainer, evaluation, replay, saved, preview); l drives a live env."
        return f"{self.description} · {self.length} steps"

    # ---- stepping through -----------------------------------------------------------------------

    def go(self, step: int) -> None:
        if self.length:
            self.step = max(0, min(step, self.length - 1))
            self.show_step()

    def action_step(self, delta: int) -> None:
        self.go(self.step + delta)

    def action_next_layer(self) -> None:
        """An observation of stacked frames (or object channels): show the next one."""
        self.query_one(FrameView).next_layer()

    def action_first(self) -> None:
        self.go(0)

    def action_last(self) -> None:
        self.go(self.length - 1)

    def action_next_done(self) -> None:
        later = [end for end in episode_ends(self.rollout) if end > self.step] if self.length else []
        if later:
            self.go(later[0])
        else:
            self.notify("No episode ends after this step.", severity="warning")

    def action_previous_done(self) -> None:
        earlier = [end for end in episode_ends(self.rollout) if end < self.step] if self.length else []
        if earlier:
            self.go(earlier[-1])
        else:
            self.notify("No episode ends before this step.", severity="warning")

    def action_toggle_view(self) -> None:
        self.view = "tensordict" if self.view == "step" else "step"
        self.update_layout()
        if self.view == "tensordict":
            self.query_one(TensorDictTree).tree.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LIVE_ACTIONS:
            return self.session is not None
        if action == "act":  # off a live env, digits stay the app's mode keys
            return self.session is not None and self.session.kind == "discrete"
        if action == "drive_agent":
            return self.session is not None and bool(self.session.seats)
        if action == "enter_action":
            return self.session is not None and self.session.kind == "continuous"
        if action == "toggle_view":
            return self.compact
        return True

    # ---- opening rollouts -----------------------------------------------------------------------

    def sources(self) -> list[Source]:
        return available_sources(self.app.current_run_dir, self.app.preview_rollout)

    def action_open(self) -> None:
        self.app.push_screen(SourcePicker(self.sources()), self.open_source)

    def open_source(self, source: Source | None) -> None:
        if source is None:
            return
        if source.kind == "preview":
            self.action_open_preview()
            return
        self.notify(f"Opening: {source.label}…")
        self.load_source(source, self.app.config, self.app.current_run_dir)

    def action_open_preview(self) -> None:
        self.opened(self.app.preview_rollout, "setup preview (random actions)", "preview")

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspector-open")
    def load_source(self, source: Source, config: RunConfig, run_dir: Path | None) -> None:
        try:
            load_torchrl()
            from tui_rl.engine.inspect.rollout_sources import load_source

            rollout, description = load_source(source.kind, config, run_dir, source.path)
        except Exception as exc:  # shown, not raised: a failed source must not end the app
            self.post_message(self.Failed(f"{source.label}: {reason(exc)}"))
            return
        self.post_message(self.RolloutOpened(rollout, description, source.kind))

    def on_inspector_screen_rollout_opened(self, message: RolloutOpened) -> None:
        if message.session is None:
            self.opened(message.rollout, message.description, message.kind)
            return
        self.close_session()
        self.driver = LiveDriver(self, message.session)
        self.opened(message.rollout, message.description, message.kind)

    def opened(self, rollout: Any, description: str, kind: str) -> None:
        if kind != "live":
            self.close_session()
        self.rollout, self.description, self.kind, self.step = rollout, description, kind, 0
        self.refresh_bindings()
        self.show_step()

    def on_inspector_screen_failed(self, message: Failed) -> None:
        self.notify(message.reason, title="Inspector", severity="error", timeout=8)

    # ---- saving ---------------------------------------------------------------------------------

    def action_save(self) -> None:
        run_dir = self.app.current_run_dir
        if run_dir is None:
            self.notify("No run folder to save into: start a run (s) or open one in Runs (3).", severity="error")
            return
        if not self.length:
            self.notify("Nothing to save: the rollout has no steps.", severity="warning")
            return
        self.save_rollout(run_dir, self.rollout, f"{self.kind}-{time.strftime('%Y%m%d-%H%M%S')}")

    @work(thread=True, exit_on_error=False, group="inspector-save")
    def save_rollout(self, run_dir: Path, rollout: Any, name: str) -> None:
        try:
            load_torchrl()
            from tui_rl.engine.inspect.rollouts import save_rollout

            path, skipped = save_rollout(run_dir, rollout, name)
        except Exception as exc:
            self.post_message(self.Failed(f"save: {reason(exc)}"))
            return
        self.post_message(self.Saved(path, skipped=skipped))

    def on_inspector_screen_saved(self, message: Saved) -> None:
        if message.what == "rollout":
            left_out = f" Not tensors, left out: {', '.join(message.skipped)}." if message.skipped else ""
            self.notify(f"Saved to {message.path}; o opens it again.{left_out}")
        else:
            self.notify(f"{message.what} written to {message.path}", timeout=10)

    def action_record_video(self) -> None:
        run_dir = self.app.current_run_dir
        if run_dir is None:
            self.notify("No run to record: start a run (s) or open one in Runs (3).", severity="error")
            return
        if self.app.under_way.begin(RECORD_TASK, f"Recording an episode of {run_dir.name}'s newest checkpoint"):
            self.record_video(run_dir)

    @work(thread=True, exit_on_error=False, group="inspector-record")
    def record_video(self, run_dir: Path) -> None:
        try:
            load_torchrl()
            from tui_rl.engine.inspect.evaluate import evaluate_run

            report = evaluate_run(run_dir, episodes=1, record=True)
        except Exception as exc:
            self.post_message(self.Failed(f"record: {reason(exc)}"))
            return
        finally:
            self.app.under_way.end(RECORD_TASK)
        what = f"A video of an episode with return {report.returns[0]:g}"
        self.post_message(self.Saved(report.video, what))

