"""The inspector in a real terminal: tmux runs `tui-rl` at 80x24, the test opens a live CartPole,
steps it by the policy and by hand until an episode ends, then steps back through it."""

from __future__ import annotations

import os
import re
import shutil
import uuid

import pytest
from helpers import TUI_RL, Tmux

from tui_rl.config.models import EnvConfig, RunConfig
from tui_rl.config import save_file

pytestmark = pytest.mark.e2e

if shutil.which("tmux") is None or not TUI_RL.exists():
    pytest.skip("needs tmux and the tui-rl console script", allow_module_level=True)

STEP = re.compile(r"step (\d+)/(\d+)")


def shown_step(screen: str) -> tuple[int, int] | None:
    """(current step, last step) as the step table says it, or None when it is not shown."""
    match = STEP.search(screen)
    return (int(match.group(1)), int(match.group(2))) if match else None


@pytest.fixture
def tmux(tmp_path):
    save_file(RunConfig(env=EnvConfig(id="CartPole-v1", seed=1)), tmp_path / "inspect.toml")
    server = Tmux(f"tui-rl-inspect-{os.getpid()}-{uuid.uuid4().hex[:8]}", tmp_path)
    yield server
    server.run("kill-server", check=False)


def test_stepping_a_live_env_through_an_episode_and_back(tmux):
    tmux.start("app", TUI_RL, "inspect.toml")
    tmux.wait_for("app", lambda s: "Start" in s)
    tmux.keys("app", "4")
    tmux.wait_for("app", lambda s: "l Live env" in s)
    tmux.keys("app", "l")
    tmux.wait_for("app", lambda s: "LIVE CartPole-v1" in s, timeout=90)

    tmux.keys("app", "p")
    assert shown_step(tmux.wait_for("app", lambda s: shown_step(s) == (0, 0))) == (0, 0)
    tmux.keys("app", "p", "0")
    tmux.wait_for("app", lambda s: shown_step(s) == (2, 2))
    # always pushing right: the pole falls within a few dozen steps and the episode ends
    for pressed in range(3, 200):
        tmux.keys("app", "1")
        screen = tmux.wait_for("app", lambda s, n=pressed: shown_step(s) == (n, n))
        if "■ ends" in screen:
            break
    else:
        raise AssertionError(f"no episode ended; the screen shows:\n{screen}")
    last = pressed
    assert re.search(r"next\.done +True", screen)

    tmux.keys("app", "Left", "Left")
    tmux.wait_for("app", lambda s: shown_step(s) == (last - 2, last) and "■ ends" not in s)
    tmux.keys("app", "Home")
    tmux.wait_for("app", lambda s: shown_step(s) == (0, last))
    tmux.keys("app", "n")  # the next step that ends an episode
    tmux.wait_for("app", lambda s: shown_step(s) == (last, last) and "■ ends" in s)
