"""The inspector's live env, driven off the UI thread.

Every job on the live env (a step, a reset, fresh weights) runs in a thread worker, one at a time
and in the order the keys asked for them; the screen hears of each through :class:`LiveJobDone`.
Keys pressed while a job runs are queued, up to :data:`MAX_QUEUED`; beyond that they are ignored,
so a held key cannot pile up steps that go on long after it is let go.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message
from textual.widget import Widget

from tui_rl.config import RunConfig
from tui_rl.tui.screens.inspector.dialogs import ActionPrompt
from tui_rl.tui.engine_imports import load_torchrl

#: jobs waiting behind the one running; more key presses meanwhile are ignored
MAX_QUEUED = 8

#: a job on the session; what it returns, when a string, is said to the user once it is done
Job = Callable[[Any], object]


def reason(exc: Exception) -> str:
    """What went wrong, for a notification: our own errors say it already; others get their type."""
    message = str(exc) or type(exc).__name__
    return message if isinstance(exc, ValueError) else f"{type(exc).__name__}: {message}"


class LiveJobDone(Message):
    """A job on the live env finished: ``follow`` when it took a step (the view goes to it),
    ``note`` what to tell the user, ``error`` why it failed (empty when it did not)."""

    def __init__(self, driver: LiveDriver, follow: bool, note: str = "", error: str = "") -> None:
        super().__init__()
        self.driver = driver
        self.follow = follow
        self.note = note
        self.error = error


class WeightsFetched(Message):
    """Fresh policy weights for the live env arrived from the run."""

    def __init__(self, weights: Any) -> None:
        super().__init__()
        self.weights = weights


class LiveDriver:
    """Owns a :class:`~tui_rl.engine.inspect.live_env.LiveEnvSession` and runs the jobs on it in order.

    The queue and ``busy`` belong to the UI thread; the lock keeps :meth:`close` from closing the
    env under a step in flight.
    """

    def __init__(self, owner: Widget, session: Any) -> None:
        self.owner = owner
        self.session = session
        self.queue: deque[tuple[Job, bool]] = deque()
        self.busy = False
        self.closed = False
        self.lock = threading.Lock()

    def submit(self, job: Job, follow: bool = True) -> bool:
        """Run ``job(session)`` after the jobs already asked for; False when it was ignored."""
        if self.closed or len(self.queue) >= MAX_QUEUED:
            return False
        if self.busy:
            self.queue.append((job, follow))
        else:
            self.start(job, follow)
        return True

    def start(self, job: Job, follow: bool) -> None:
        self.busy = True
        self.owner.run_worker(
            lambda: self.run(job, follow), thread=True, group="inspector-live", exit_on_error=False
        )

    def run(self, job: Job, follow: bool) -> None:
        """In the worker thread: the job, then its outcome posted to the screen."""
        note = error = ""
        with self.lock:
            if self.closed:
                return
            try:
                result = job(self.session)
                note = result if isinstance(result, str) else ""
            except ValueError as exc:  # ActionError, WeightsError: the message says it all
                error = str(exc)
            except Exception as exc:  # the env itself failed: say so, keep the app
                error = f"the env failed: {reason(exc)}"
        self.owner.post_message(LiveJobDone(self, follow, note, error))

    def finished(self) -> None:
        """On the UI thread, when a job's :class:`LiveJobDone` arrives: start the next one."""
        self.busy = False
        if self.queue and not self.closed:
            self.start(*self.queue.popleft())

    def close(self) -> None:
        """Drop the waiting jobs and close the env (after the step in flight, if any)."""
        self.queue.clear()
        self.closed = True
        with self.lock:
            self.session.close()


class LiveEnvPanel:
    """The inspector screen's live env: opening and closing it, and its keys (a mixin of
    :class:`~tui_rl.tui.screens.inspector.screen.InspectorScreen`, whose messages and view it uses)."""

    driver: LiveDriver | None = None

    @property
    def session(self) -> Any:
        """The live env, while one is open."""
        return self.driver.session if self.driver is not None else None

    def action_live(self) -> None:
        if self.session is not None:
            self.close_session()
            self.refresh_bindings()
            self.show_step()
            self.notify("Live env closed; its rollout stays open.")
            return
        self.notify(f"Opening a live {self.app.config.env.id}…")
        self.open_live(self.app.config, self.app.current_run_dir)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspector-open")
    def open_live(self, config: RunConfig, run_dir: Path | None) -> None:
        try:
            load_torchrl()
            from tui_rl.engine.inspect.rollout_sources import live_session_for

            session = live_session_for(config, run_dir)
        except Exception as exc:
            self.post_message(self.Failed(f"live env: {reason(exc)}"))
            return
        self.post_message(self.RolloutOpened(session.rollout, f"live {config.env.id}", "live", session))

    def close_session(self) -> None:
        driver, self.driver = self.driver, None
        if driver is not None:
            driver.close()

    def action_step_policy(self) -> None:
        self.driver.submit(lambda session: session.step_policy())

    def action_step_random(self) -> None:
        self.driver.submit(lambda session: session.step_random())

    def action_act(self, index: int) -> None:
        self.driver.submit(lambda session: session.step_action(index))

    def action_drive_agent(self) -> None:
        """In a multi-agent env: act for the next agent (group by group, then none)."""
        self.driver.submit(lambda session: session.drive_next(), follow=False)

    def action_enter_action(self) -> None:
        prompt = f"Action for {self.session.config.env.id}: {self.session.describe_actions()}"
        self.app.push_screen(ActionPrompt(prompt, self.session.parse_action, self.last_action), self.take_typed_action)

    def take_typed_action(self, value: str | None) -> None:
        if value is None or self.driver is None:
            return
        self.last_action = value
        self.driver.submit(lambda session: session.step_action(value))

    def action_reset_env(self) -> None:
        self.driver.submit(lambda session: session.reset() or "New episode.", follow=False)

    def on_live_job_done(self, message: LiveJobDone) -> None:
        message.driver.finished()
        if message.driver is not self.driver:
            return  # a job of a live env closed meanwhile
        if message.error:
            self.notify(message.error, severity="error")
        elif message.note:
            self.notify(message.note)
        self.rollout = self.session.rollout
        if message.follow:
            self.go(self.length - 1)  # the view follows the growing rollout
        else:
            self.show_step()

    def action_refresh_weights(self) -> None:
        self.fetch_weights(self.app.current_run_dir)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspector-weights")
    def fetch_weights(self, run_dir: Path | None) -> None:
        try:
            load_torchrl()
            from tui_rl.engine.inspect.rollout_sources import run_weights

            weights = run_weights(run_dir)
        except Exception as exc:
            self.post_message(self.Failed(f"weights: {reason(exc)}"))
            return
        self.post_message(WeightsFetched(weights))

    def on_weights_fetched(self, message: WeightsFetched) -> None:
        if self.driver is None:
            return

        def swap(session: Any) -> str:
            session.load_weights(message.weights)
            return f"Policy: {session.weights_note}"

        self.driver.submit(swap, follow=False)
