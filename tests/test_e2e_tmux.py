"""The app in a real terminal: tmux runs `tui-rl` at 80x24, the test types like a user and reads
the screen. Killing the tmux session is what an SSH drop does to the app; the trainer must go on,
and `tui-rl attach RUN` must bring its history back. Started by `make run`, the app is not the
terminal's session leader and gets no SIGHUP: it must still notice the lost terminal and exit."""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest
from conftest import wait_until
from helpers import TUI_RL, Tmux, screen_frames

from tui_rl.config import load_preset, save_file
from tui_rl.engine.runs.folder import RunSummary, list_runs, trainer_is_gone

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
if shutil.which("tmux") is None or not TUI_RL.exists():
    pytest.skip("needs tmux and the tui-rl console script", allow_module_level=True)

def chart_rows(screen: str) -> list[str]:
    """The inside of the shown chart, row by row: what follows the y axis."""
    return [re.split("[┤│]", line, maxsplit=1)[1] for line in screen.splitlines() if re.search(r"^ *[-\d.]*[┤│]", line)]


def chart_area(screen: str) -> str:
    return "\n".join(chart_rows(screen))


def plotted_from_the_start(screen: str) -> bool:
    """Whether the chart has points near frame 0 (its left edge), legend rows aside."""
    legend = ("raw", "mean of")
    return any(
        any("\u2801" <= cell <= "\u28ff" for cell in row[:3])
        for row in chart_rows(screen)
        if not any(word in row for word in legend)
    )


def gone(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` ends (or is a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def children(pid: int) -> list[int]:
    """The child processes of ``pid``."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def the_run(runs_dir: Path) -> RunSummary:
    (summary,) = list_runs(runs_dir)
    return summary


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A working folder with a small CartPole DQN preset; long enough to outlive a detach."""
    config = load_preset("cartpole-dqn")
    config.collector.total_frames = 400_000
    config.collector.frames_per_batch = 128
    config.eval.every_frames = 5_000
    config.eval.episodes = 2
    config.eval.target_return = None  # never finish early by solving it
    save_file(config, tmp_path / "e2e.toml")
    return tmp_path


@pytest.fixture
def tmux(workdir):
    server = Tmux(f"tui-rl-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}", workdir)  # one server per test: no race with the last one's exit
    yield server
    server.run("kill-server", check=False)
    for pid in server.app_pids:
        if not gone(pid, timeout=0):
            os.kill(pid, signal.SIGKILL)  # an app that hung on its way out
    for summary in list_runs(workdir / "runs"):
        if summary.pid and not trainer_is_gone(summary):
            os.killpg(summary.pid, signal.SIGTERM)  # the trainer leads its own session


def test_a_run_survives_a_dropped_terminal_and_comes_back(tmux, workdir):
    app = tmux.start("app", TUI_RL, "e2e.toml")
    tmux.wait_for("app", lambda s: "Start" in s)

    tmux.keys("app", "s")
    first = tmux.wait_for("app", lambda s: (screen_frames(s) or 0) > 0)
    later = tmux.wait_for("app", lambda s: (screen_frames(s) or 0) > screen_frames(first) + 2_000)
    assert "RUNNING" in later
    assert chart_area(later) != chart_area(first), "the chart did not move"

    before = the_run(workdir / "runs")
    tmux.run("kill-session", "-t", "app")  # what an SSH drop does: SIGHUP to the app
    assert gone(app, timeout=60), "the app did not exit when its terminal went away"
    after = wait_until(
        lambda: (run := the_run(workdir / "runs")).frames > before.frames and run,
        what="the trainer to go on without the app",
    )
    assert not trainer_is_gone(after), "the trainer died with the terminal"
    assert after.status == "running"

    tmux.start("again", TUI_RL, "attach", after.name)
    back = tmux.wait_for(
        "again", lambda s: (screen_frames(s) or 0) >= after.frames and plotted_from_the_start(s)
    )  # the chart reaches back to frame 0: the history before the drop came back
    assert "RUNNING" in back


def test_the_app_started_by_make_exits_when_its_terminal_goes(tmux, workdir):
    # `make run` (the README's first command) is the pane's process: the terminal's SIGHUP reaches
    # make, not the app; the app finds its terminal hung up (reads at end of file, writes failing).
    # make runs this test's own console script, and never (re)installs it (-o: taken as up to date).
    make = tmux.start("app", "make", "-C", REPO, "-o", TUI_RL, "run", f"BIN={TUI_RL.parent}",
                      f"ARGS=--runs-dir {workdir / 'runs'} {workdir / 'e2e.toml'}")
    tmux.wait_for("app", lambda s: "Start" in s)
    (app,) = wait_until(lambda: children(make), what="the app under make")
    tmux.app_pids.append(app)  # killed at the end if it hangs on
    tmux.keys("app", "s")
    tmux.wait_for("app", lambda s: (screen_frames(s) or 0) > 0)
    trainer = the_run(workdir / "runs")

    tmux.run("kill-session", "-t", "app")
    busy_before = cpu_seconds(app) if not gone(app, timeout=0) else 0.0
    assert gone(app, timeout=60), (
        f"the app outlived its terminal (it used {cpu_seconds(app) - busy_before:.1f} s of CPU meanwhile)"
    )
    after = the_run(workdir / "runs")
    assert not trainer_is_gone(after) and after.pid == trainer.pid, "the run did not go on without the app"
