"""Snapshots of the frame drawing (a synthetic frame, and CartPole with a fixed seed) and of the
inspector screen at 80x24 and 160x48 on a rollout made with fixed seeds."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import settle
from textual.app import App, ComposeResult

from tui_rl.config.models import EnvConfig, RunConfig
from tui_rl.engine.inspect.live_env import LiveEnvSession
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.frame_view import FrameView

SIZES = {"small": (80, 24), "large": (160, 48)}


class FrameApp(App):
    """Nothing but a frame, filling the terminal."""

    CSS = "FrameView { width: 1fr; height: 1fr; }"

    def __init__(self, frame: np.ndarray) -> None:
        super().__init__()
        self.frame = frame

    def compose(self) -> ComposeResult:
        yield FrameView()

    def on_mount(self) -> None:
        self.query_one(FrameView).show(self.frame)


def synthetic_frame() -> np.ndarray:
    """40x60: a red-to-blue gradient, a green diagonal and a one-pixel black border."""
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[..., 0] = np.linspace(255, 0, 60, dtype=np.uint8)[None, :]
    frame[..., 2] = np.linspace(0, 255, 60, dtype=np.uint8)[None, :]
    for row in range(40):
        frame[row, int(row * 1.5)] = (0, 255, 0)
    frame[0, :] = frame[-1, :] = frame[:, 0] = frame[:, -1] = 0
    return frame


def cartpole_frame() -> np.ndarray:
    import gymnasium

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(6):  # pushed left: the cart moves and the pole leans, still upright
        env.step(0)
    frame = env.render()
    env.close()
    return frame


def test_a_synthetic_frame_in_half_blocks(snap_compare):
    assert snap_compare(FrameApp(synthetic_frame()), terminal_size=(40, 12))


@pytest.mark.parametrize("size", SIZES)
def test_a_cartpole_frame_scaled_to_the_terminal(snap_compare, size):
    assert snap_compare(FrameApp(cartpole_frame()), terminal_size=SIZES[size])


@pytest.fixture(scope="module")
def demo_rollout():
    """Eight CartPole steps of an untrained DQN: by the policy, by hand and at random."""
    torch.manual_seed(0)
    live = LiveEnvSession(RunConfig(env=EnvConfig(seed=0), network={"hidden_sizes": [16]}))
    for take in ("policy", 0, 0, 1, "random", "policy", 1, 0):
        if take == "policy":
            live.step_policy()
        elif take == "random":
            live.step_random()
        else:
            live.step_action(take)
    rollout = live.rollout.clone()
    live.close()
    return rollout


@pytest.mark.parametrize("size", SIZES)
def test_the_inspector_on_a_rollout(snap_compare, demo_rollout, size):
    async def open_demo(pilot):
        await pilot.press("4")
        await pilot.pause()
        pilot.app.screen.opened(demo_rollout, "saved rollout demo", "saved")
        await pilot.press("right", "right", "right")
        if size == "large":  # the tree shows beside: highlight the observation
            while pilot.app.screen.query_one("TensorDictTree").highlighted != ("observation",):
                await pilot.press("down")
        await settle(pilot)

    app = TuiRlApp(RunConfig(), preset_name="test")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=open_demo)


def test_the_inspector_tensordict_view_on_a_small_terminal(snap_compare, demo_rollout):
    async def open_tree(pilot):
        await pilot.press("4")
        await pilot.pause()
        pilot.app.screen.opened(demo_rollout, "saved rollout demo", "saved")
        await pilot.press("v")
        while pilot.app.screen.query_one("TensorDictTree").highlighted != ("action",):
            await pilot.press("down")
        await settle(pilot)

    assert snap_compare(TuiRlApp(RunConfig(), preset_name="test"), terminal_size=(80, 24), run_before=open_tree)
