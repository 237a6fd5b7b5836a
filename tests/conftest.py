"""Fixtures and helpers shared by the test modules.

Tests wait on conditions, never on fixed sleeps: ``until`` (in Pilot tests) and ``wait_until``
(elsewhere) poll a condition with a generous ceiling, so a loaded machine makes a test slower,
never red.
"""

from __future__ import annotations

import atexit
import functools
import gc
import html
import io
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from tui_rl.engine.runs.folder import list_runs, trainer_is_gone

#: the most any test waits for a condition; a loaded two-core machine needs this much headroom
PATIENCE_S = 120.0


@pytest.fixture(autouse=True)
def unfrozen_garbage():
    """The app freezes what is alive when it opens a run (tui/long_lived.py); in one pytest process
    that would keep every finished test's app from ever being collected."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def no_spare_left_behind():
    """A spare trainer warmed during a test (a seed group's, an app's) ends with it: the next test
    starts from a process with none, as a fresh launch does."""
    yield
    from tui_rl.engine.channel import warm_trainers

    warm_trainers.discard_spare()


@pytest.fixture(autouse=True)
def own_cache_folder(tmp_path_factory, monkeypatch) -> Path:
    """Each test has its own user cache folder: the env list cached by one test (or by the user's
    own launches) never stands in for another test's registry."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def stop_trainers(runs: Path) -> None:
    """SIGTERM every trainer still running under ``runs`` (each leads its own session)."""
    for summary in list_runs(runs):
        if summary.pid and not trainer_is_gone(summary):
            try:
                os.killpg(summary.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


@pytest.fixture
def runs_dir(tmp_path: Path):
    """Where the test's runs go; any trainer still up at the end is stopped."""
    runs = tmp_path / "runs"
    yield runs
    stop_trainers(runs)


def wait_until(condition: Callable[[], object], timeout: float = PATIENCE_S, what: str = "") -> object:
    """Poll ``condition`` until it returns something true (and return that), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(0.05)


def asks(app) -> bool:
    """Whether the app shows a yes/no question, composed: a pushed screen is the app's screen a
    moment before its widgets are mounted."""
    from tui_rl.tui.screens.confirm import ConfirmScreen

    screen = app.screen
    return isinstance(screen, ConfirmScreen) and bool(screen.query("#confirm-detail"))


async def until(pilot, condition: Callable[[], object], timeout: float = PATIENCE_S, what: str = "") -> None:
    """The Pilot form of :func:`wait_until`: the app keeps running while the test waits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        await pilot.pause(0.1)


async def settle(pilot) -> None:
    """Let the app's background workers finish and the screen catch up."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def screen_text(app) -> str:
    """What the terminal shows, as plain text."""
    width, height = app.size
    # Textual has no public plain-text picture of the screen. Its compositor's update (what
    # export_screenshot() prints before making it SVG) is read first, for speed: a poll takes a few
    # ms this way and tens of ms through SVG. Should a Textual release move those internals, the
    # public screenshot is read instead, so an upgrade does not fail every Pilot test
    # (test_screen_text.py holds the two readings equal).
    try:
        update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    except (AttributeError, TypeError):
        return screenshot_text(app.export_screenshot(), width, height)
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None)
    console.print(update)
    return console.export_text()


#: a run of characters in Rich's SVG export: its x, its width and the screen line it is clipped to
SVG_TEXT = re.compile(r'<text [^>]*?x="([\d.]+)"[^>]*?textLength="([\d.]+)"[^>]*?'
                      r'clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>(.*?)</text>', re.S)


def screenshot_text(svg: str, width: int, height: int) -> str:
    """The plain text of an SVG screenshot (``App.export_screenshot()``), line by line, each line's
    trailing blanks left out. Rich writes each run of styled characters as a ``<text>`` at
    ``x = column * cell width``, clipped to its line; blanks are not written at all."""
    rows = [[" "] * width for _ in range(height)]
    for x, length, line, text in SVG_TEXT.findall(svg):
        text = html.unescape(text).replace("\xa0", " ")
        column, row = round(float(x) * len(text) / float(length)), int(line)
        for char in text:
            cells = cell_len(char)
            if row < height and column + cells <= width:
                rows[row][column:column + cells] = [char] + [""] * (cells - 1)
            column += cells
    return "\n".join("".join(row).rstrip() for row in rows) + "\n"


def words_on_screen(app) -> str:
    """The screen's text with line breaks, panel sides and runs of spaces as one space, so a
    note wrapped inside a bordered panel reads as one sentence."""
    return " ".join(screen_text(app).replace("│", " ").split())


def renderable_text(renderable, width: int = 200) -> str:
    """A Rich renderable as plain text at ``width`` columns."""
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


# ---- tiny real training runs (test_trainer.py, test_checkpoint.py) ------------------------------

#: a DQN run on CartPole small enough to train in seconds: evaluations and checkpoints at 300, 600
TINY_DQN = [
    "collector.frames_per_batch=100",
    "collector.total_frames=600",
    "collector.init_random_frames=100",
    "replay_buffer.batch_size=32",
    "network.hidden_sizes=[32]",
    "eval.every_frames=300",
    "eval.episodes=2",
    "checkpoint.every_frames=300",
    "checkpoint.keep=2",
]


def tiny_dqn(*overrides: str):
    from tui_rl.config import RunConfig, apply_overrides

    return apply_overrides(RunConfig(), TINY_DQN + list(overrides))


def train_run(config, run_dir: Path, from_checkpoint: bool = False, before=None):
    """Train ``run_dir`` in-process with a real Trainer; returns it and every event it emitted.
    ``before(trainer)`` runs first (to queue commands)."""
    from tui_rl.engine.run.trainer import Trainer

    events: list = []
    trainer = Trainer(config, run_dir, events.append, from_checkpoint=from_checkpoint)
    if before is not None:
        before(trainer)
    trainer.run()
    return trainer, events


def of_type(events: list, cls: type) -> list:
    return [e for e in events if isinstance(e, cls)]


def crafted_rollout(run_dir: Path, marker: Path, name: str = "crafted") -> Path:
    """A saved rollout (four CartPole-like steps) with a non-tensor entry ``info`` whose pickle
    would create ``marker`` when unpickled: what a rollout folder received from someone else may hold."""
    import pickle

    import torch
    from tensordict import NonTensorData, TensorDict

    class Plant:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    steps = TensorDict(
        {"observation": torch.randn(4, 4), "action": torch.arange(4) % 2,
         "next": {"reward": torch.ones(4, 1), "done": torch.tensor([[False]] * 3 + [[True]])},
         "info": NonTensorData(object(), batch_size=[4])},
        batch_size=[4],
    )
    folder = Path(run_dir) / "rollouts" / name
    steps.memmap(prefix=folder)
    (folder / "info" / "other.pickle").write_bytes(pickle.dumps(Plant()))
    return folder


def cartpole_dqn():
    """The default CartPole DQN config with a fixed seed."""
    from tui_rl.config.models import EnvConfig, RunConfig

    return RunConfig(env=EnvConfig(id="CartPole-v1", seed=3))


def trained_run(runs_dir: Path) -> Path:
    """A CartPole DQN run trained for 512 frames by the real training loop, with checkpoints at
    256 and 512, in ``runs_dir``: a copy of the one run the test session trains."""
    run_dir = Path(runs_dir) / "tiny"
    shutil.copytree(once_trained_run(), run_dir, symlinks=True)
    return run_dir


@functools.cache
def once_trained_run() -> Path:
    from tui_rl.engine.run.trainer import Trainer
    from tui_rl.engine.runs.record import create_run

    config = cartpole_dqn()
    config.collector.total_frames = 512
    config.collector.frames_per_batch = 128
    config.eval.every_frames = 100_000
    config.eval.episodes = 1
    config.checkpoint.every_frames = 256
    config.replay_buffer.size = 1_000
    config.replay_buffer.batch_size = 32
    session_folder = Path(tempfile.mkdtemp(prefix="tui-rl-trained-"))
    atexit.register(shutil.rmtree, session_folder, ignore_errors=True)
    run_dir = create_run(config, name="tiny", runs_dir=session_folder / "runs")
    assert Trainer(config, run_dir).run() == "finished"
    return run_dir


#: frames per batch of :func:`endless_dqn`
ENDLESS_BATCH = 100


def endless_dqn(*overrides: str):
    """A small DQN config that trains until stopped: no evaluations or checkpoints unless asked."""
    from tui_rl.config import RunConfig, apply_overrides

    return apply_overrides(
        RunConfig(),
        [
            f"collector.frames_per_batch={ENDLESS_BATCH}",
            "collector.total_frames=100000000",
            "collector.init_random_frames=100",
            "replay_buffer.batch_size=32",
            "network.hidden_sizes=[32]",
            "eval.every_frames=100000000",
            "eval.episodes=1",
            "checkpoint.every_frames=100000000",
            *overrides,
        ],
    )


def wait_for_event(handle, predicate: Callable[[object], object], timeout: float = PATIENCE_S):
    """Read a RunHandle's live events until one satisfies ``predicate``; returns it and all read."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in handle.events(timeout=max(0.1, deadline - time.monotonic())):
            seen.append(event)
            if predicate(event):
                return event, seen
        if not handle.is_live:
            break
    names = [type(e).__name__ for e in seen][-20:]
    raise AssertionError(f"no such event within {timeout:.0f} s (live: {handle.is_live}, "
                         f"{handle.drop_reason or 'connected'}); saw {names}")


# ---- the app: messages, toasts, fixture runs (added for the Train and Runs tests) ---------------

#: a failure reason with brackets, which Rich markup would eat
PIP_REASON = "the tensorboard logger needs its package: pip install 'tui-rl[tensorboard]'"


class Posted:
    """Every message posted in the app, once each however far it bubbles (a Pilot ``message_hook``)."""

    def __init__(self) -> None:
        self.messages: list = []

    def __call__(self, message) -> None:
        if not any(message is seen for seen in self.messages):
            self.messages.append(message)

    def of(self, kind: type) -> list:
        return [m for m in self.messages if type(m) is kind]

    def notices(self) -> list[str]:
        """The words of every notification, in the order they were posted."""
        from textual.notifications import Notify

        return [m.notification.message for m in self.of(Notify)]


def toasts(app) -> str:
    """The words of the notifications on screen (each toast line follows a ``▌`` bar)."""
    rows = [line.rsplit("▌", 1)[1] for line in screen_text(app).splitlines() if "▌" in line]
    return " ".join(" ".join(rows).split())


def arrive(screen, *events) -> None:
    """Live events reaching a Train screen the way its event reader hands them over."""
    for event in events:
        screen.receive(screen.handle, event)


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


@pytest.fixture
def demo_runs(tmp_path, monkeypatch) -> Path:
    """Fixture run folders (no trainer) in ``runs/`` under a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    runs = Path("runs")
    from helpers import START, demo_run

    demo_run(runs, "cartpole-fast", learns=2.0, created=START,
             reason="evaluation return 199.2 reached the target 195")
    demo_run(runs, "cartpole-slow", learns=0.5, created=START + 100)
    demo_run(runs, "cartpole-failed", learns=1.0, created=START + 200, status="failed", reason=PIP_REASON)
    return runs


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    """A preset file of a tiny DQN run (``helpers.TINY_RUN``)."""
    from helpers import TINY_RUN

    from tui_rl.config import RunConfig, apply_overrides, to_toml

    path = tmp_path / "tiny.toml"
    path.write_text(to_toml(apply_overrides(RunConfig(description="tiny DQN"), TINY_RUN)))
    return path


# ---- optional packages and programs: skip locally, fail under CI (issue 9) ----------------------

def needs(name: str, extra: str):
    """Import module ``name`` (or, when no such module exists, find program ``name`` on PATH) and
    return the module (or the program's path). When it is missing the test is skipped, or fails
    when the ``CI`` variable is set, so CI never passes by skipping a real path."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as error:
        program = shutil.which(name)
        if program is not None:
            return program
        cause = error
    message = f"{name} is missing ({cause}); install it with pip install 'tui-rl[{extra}]'"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def collection(*overrides: str):
    """The run's Collection (engine/run/collectors.py) of a tiny DQN config, built as the trainer
    builds it, and its env: shut the one down and close the other."""
    import torch

    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.run.collectors import Collection
    from tui_rl.engine.envs.making import make_env

    config = tiny_dqn("collector.init_random_frames=0", *overrides)
    env = make_env(config)
    algorithm = build_algorithm(config, env, torch.device("cpu"))
    return Collection(config, env, algorithm.collector_policy, torch.device("cpu")), env


async def choose(pilot, path: str, option: str) -> None:
    """Open the select of ``path`` and pick ``option`` with the arrow keys, as a user does."""
    from textual.widgets import Select

    from tui_rl.tui.widgets.hparam_form import field_spec

    select = pilot.app.screen.query_one(f"#field-{path.replace('.', '-').replace('_', '-')}", Select)
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    options = list(field_spec(pilot.app.config, path).choices)  # the select lists them in this order
    steps = options.index(option) - options.index(select.value)
    await pilot.press(*(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
    await until(pilot, lambda: select.value == option, what=f"{path} = {option}")


def shadowing_gymnasium(folder: Path, marker: Path) -> None:
    """A ``gymnasium.py`` in ``folder`` that, were it ever imported in place of Gymnasium, leaves
    a file named for the importing process in ``marker`` (a folder, made here)."""
    marker.mkdir()
    (folder / "gymnasium.py").write_text(
        f"import os, pathlib\npathlib.Path({str(marker)!r}, str(os.getpid())).write_text('imported')\n")


def importers(marker: Path) -> list[str]:
    """The processes that imported a :func:`shadowing_gymnasium`."""
    return sorted(path.name for path in marker.iterdir())


@pytest.fixture
def small_filesystem(tmp_path):
    """``mount(size, read_only=False, holding=None)``: a fresh tmpfs of ``size`` under tmp_path, a
    real full or read-only filesystem (holding a copy of the folder ``holding``, put in before it
    is made read-only); skipped where this user cannot mount one. Unmounted at the end."""
    import subprocess

    mounted: list[Path] = []

    def mount(size: str = "1m", read_only: bool = False, holding: Path | None = None) -> Path:
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only and holding is None else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        if holding is not None:
            shutil.copytree(holding, point / holding.name, symlinks=True)
            if read_only:
                subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)
