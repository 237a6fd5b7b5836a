"""What several test modules share beyond conftest's fixtures: fixture run folders written without a
trainer, the small settings the tests train with, and readers of what the Train screen shows."""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import PATIENCE_S, wait_until

from tui_rl.config import RunConfig
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.protocol import Checkpointed, Evaluated, HparamsChanged, Log, StatusChanged
from tui_rl.engine.runs.folder import SCALARS_DIR, read_summary
from tui_rl.engine.runs.record import append_event, create_run, write_run_json
from tui_rl.tui.screens.train.screen import TrainScreen
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.widgets.status_line import StatusLine

#: a user's env file (faulty.py) whose envs reset fine and fail in the ways only stepping them shows
FAULTY_ENVS = textwrap.dedent('''
    import gymnasium
    import numpy as np


    class Stumbles(gymnasium.Env):
        """Resets fine; its step raises."""

        observation_space = gymnasium.spaces.Box(0.0, 1.0, (2,), np.float32)
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros(2, np.float32), {}

        def step(self, action):
            raise ValueError("the stepper motor is unplugged")


    class Grows(Stumbles):
        """Its step returns an observation of another shape than its space says."""

        def step(self, action):
            return np.zeros(3, np.float32), 0.0, False, False, {}
''')


START = 1_700_000_000.0  # a fixed wall-clock time for the fixture runs


def demo_run(
    runs_dir: Path, name: str, *, learns: float, created: float, status: str = "finished", reason: str = ""
) -> Path:
    """A finished CartPole DQN run folder: 40k frames of smooth, made-up but plausible metrics."""
    config = RunConfig()  # the model's defaults (CartPole DQN): preset edits cannot move these pictures
    config.collector.total_frames = 40_960
    run_dir = create_run(config, name=name, runs_dir=runs_dir, preset="cartpole-dqn")
    scalars = run_dir / SCALARS_DIR
    scalars.mkdir(parents=True)
    series: dict[str, list[str]] = {}
    evaluations = []
    for batch in range(1, 161):
        frames = batch * 256
        progress = 1 - math.exp(-frames * learns / 15_000)
        values = {
            "episode_return": 15 + 185 * progress + 12 * math.sin(batch / 3),
            "episode_length": 15 + 185 * progress,
            "loss_qvalue": 0.2 + 1.5 * math.exp(-frames / 8_000) + 0.05 * math.cos(batch),
            "epsilon": max(0.05, 1 - frames / 10_000),
            "fps": 2_400 + 40 * math.sin(batch / 7),
            "lr": 0.001 if frames < 15_360 else 0.0003,
        }
        if frames % 10_240 == 0:
            values["eval_return"] = 20 + 180 * progress
            evaluations.append((frames, values["eval_return"]))
        for metric, value in values.items():
            series.setdefault(metric, []).append(f"{frames},{value}\n")
    for metric, rows in series.items():
        (scalars / f"{metric}.csv").write_text("".join(rows))
    events = [
        StatusChanged("starting", total_frames=40_960, frames=0, time=START),
        StatusChanged("running", total_frames=40_960, frames=0, time=START + 2),
        *(Evaluated(value, 6.0, 10, frames=frames, time=START + frames / 2_400) for frames, value in evaluations),
        HparamsChanged({"optim.lr": 0.0003}, {"optim.lr": 0.001}, frames=15_360, time=START + 8),
        Checkpointed("checkpoints/20480", frames=20_480, time=START + 10),
        Log("replay buffer is full; oldest transitions are overwritten", "warning", frames=25_600, time=START + 12),
        StatusChanged(status, reason, total_frames=40_960, frames=40_960, time=START + 19),
    ]
    events.sort(key=lambda event: event.frames)
    for seq, event in enumerate(events, start=1):
        event.seq = seq
        append_event(run_dir, event)
    summary = read_summary(run_dir)
    summary.status = status
    summary.reason = reason
    summary.frames = 40_960
    summary.best_eval = max(value for _, value in evaluations)
    summary.last_eval = evaluations[-1][1]
    summary.created = created
    summary.updated = created + 19
    summary.train_seconds = 17.0
    write_run_json(run_dir, summary)
    return run_dir


#: overrides of a tiny DQN run that trains 400 frames in a few seconds
TINY_RUN = [
    "collector.frames_per_batch=100",
    "collector.total_frames=400",
    "collector.init_random_frames=100",
    "replay_buffer.batch_size=32",
    "network.hidden_sizes=[32]",
    "eval.every_frames=200",
    "eval.episodes=1",
    "checkpoint.every_frames=200",
]

#: a few hundred frames per trial, three evaluations of two episodes each
TINY_SEARCH = ["--frames", "384", "--evals", "3", "--set", "eval.episodes=2", "--set", "collector.frames_per_batch=128",
               "--set", "env.num_envs=2"]


SMALL_RUN = [
    "collector.total_frames=300000",  # far more than the test needs: it ends the run itself
    "collector.frames_per_batch=128",  # one batch = 128 frames
    "eval.every_frames=2000",
    "eval.episodes=2",
    "eval.target_return=none",  # never finish early by solving it
]


def log_text(app) -> str:
    return "\n".join(line.text for line in app.screen.query_one(EventLog).lines)


def shown_frames(app) -> int:
    return app.screen.query_one(StatusLine).progress.frames


def state_of(app) -> str:
    return app.screen.state if isinstance(app.screen, TrainScreen) else ""


async def type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector)
    field.focus()
    field.value = ""
    await pilot.press(*text, "enter")


# ---- the app in a real terminal ---------------------------------------------------------------

TUI_RL = Path(sys.executable).parent / "tui-rl"
STATUS = re.compile(r"(RUNNING|PAUSED|STARTING|FINISHED|STOPPED|FAILED) │ ([\d.]+)([kM]?)/")


class Tmux:
    """A private tmux server (its own socket), so the test touches no one else's sessions."""

    def __init__(self, socket_name: str, cwd: Path) -> None:
        self.socket_name = socket_name
        self.cwd = cwd
        self.app_pids: list[int] = []

    def run(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["tmux", "-L", self.socket_name, *args], capture_output=True,
                                text=True, check=check, cwd=self.cwd)
        return result.stdout

    def start(self, session: str, *command: str) -> int:
        """Run ``command`` as the session's pane process; returns its pid."""
        shell = "exec " + shlex.join(str(part) for part in command)
        self.run("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                 "-e", "TERM=xterm-256color", "-e", f"PATH={os.environ['PATH']}", shell)
        pid = int(self.run("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        self.app_pids.append(pid)
        return pid

    def screen(self, session: str) -> str:
        return self.run("capture-pane", "-p", "-t", session, check=False)

    def keys(self, session: str, *keys: str) -> None:
        self.run("send-keys", "-t", session, *keys)

    def wait_for(self, session: str, predicate, timeout: float = PATIENCE_S) -> str:
        shown = [""]

        def showing() -> str | None:
            shown[0] = self.screen(session)
            return shown[0] if predicate(shown[0]) else None

        try:
            return wait_until(showing, timeout, what="the screen")
        except AssertionError:
            raise AssertionError(f"timed out; the screen shows:\n{shown[0]}") from None


def screen_frames(screen: str) -> int | None:
    """The frame counter of the status line (``12.3k/40k`` -> 12300), or None if not shown."""
    match = STATUS.search(screen)
    if match is None:
        return None
    scale = {"": 1, "k": 1_000, "M": 1_000_000}[match.group(3)]
    return int(float(match.group(2)) * scale)


# ---- an algorithm trained in process ------------------------------------------------------------

def train_briefly(config):
    """The algorithm after 320 collected frames (64 per batch), checking every logged value is a
    finite float; returns it, its parameters before training and the last logged values."""
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    before = [p.detach().clone() for p in algorithm.loss_module.parameters()]
    from torchrl.collectors import Collector

    collector = Collector(
        env, algorithm.collector_policy, frames_per_batch=64, total_frames=320,
        init_random_frames=config.collector.init_random_frames if not config.algorithm.on_policy else 0,
        auto_register_policy_transforms=False,
    )
    frames, logged = 0, {}
    for batch in collector:
        frames += batch.numel()
        logged = algorithm.update(batch, frames)
        assert all(type(value) is float and math.isfinite(value) for value in logged.values()), logged
    collector.shutdown()
    assert frames == 320
    return algorithm, before, logged


def one_batch(env, policy, frames: int):
    """One batch of ``frames`` steps that a TorchRL Collector running ``policy`` collects from ``env``."""
    from torchrl.collectors import Collector

    collector = Collector(env, policy, frames_per_batch=frames, total_frames=frames, auto_register_policy_transforms=False)
    batch = next(iter(collector))
    collector.shutdown()
    return batch
