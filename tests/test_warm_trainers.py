"""A warm trainer: the app (and a seed group) keep a spare trainer process that has imported torch
and waits, so a run starts without that wait. A run handed to it is the same run as one started
cold, and a spare nobody uses goes away with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import tiny_dqn, until, wait_until
from helpers import FAULTY_ENVS

from tui_rl.engine.channel import warm_trainers
from tui_rl.engine.channel.handle import RunHandle
from tui_rl.engine.runs.folder import read_config, read_history
from tui_rl.tui.app import TuiRlApp

pytestmark = pytest.mark.slow


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: it went while being read
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.fixture
def spare():
    """A warmed spare trainer of this process; discarded at the end."""
    warm_trainers.warm_up()
    wait_until(warm_trainers.spare_ready, what="the spare trainer's imports")
    yield warm_trainers.spare_pid()
    warm_trainers.discard_spare()


def learning(run_dir: Path) -> dict[str, list]:
    """What a run learned, by frame: its loss and returns (not its timings)."""
    metrics = read_history(run_dir).metrics
    return {name: series for name, series in metrics.items() if name.startswith(("loss_", "episode_return", "eval_return"))}


def test_a_run_handed_to_the_spare_is_the_same_run_as_one_started_cold(spare, runs_dir):
    config = tiny_dqn("env.seed=7")
    warm = RunHandle.start(config, name="warm", runs_dir=runs_dir)
    assert warm.process.pid == spare, "the spare trainer took the run"
    assert warm_trainers.spare_pid() not in (None, spare), "a new spare warms for the next run"
    warm_trainers.discard_spare()
    cold = RunHandle.start(config, name="cold", runs_dir=runs_dir)
    assert cold.process.pid != spare
    for handle in (warm, cold):
        assert handle.process.wait(timeout=300) == 0, (handle.run_dir / "trainer.log").read_text()
    warm_dir, cold_dir = runs_dir / "warm", runs_dir / "cold"
    assert read_config(warm_dir) == read_config(cold_dir)
    assert read_history(warm_dir).status == read_history(cold_dir).status == "finished"
    assert learning(warm_dir)["loss_qvalue"], "the runs trained"
    assert learning(warm_dir) == learning(cold_dir), "same seed, same batches, same losses"
    assert "run ended: finished" in (warm_dir / "trainer.log").read_text(), "its output went to the run's log"


def test_a_spare_left_unused_goes_when_the_process_that_started_it_is_killed(tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from tui_rl.engine.channel import warm_trainers
            warm_trainers.warm_up()  # killed while its spare still imports: the spare ends after them
            print(warm_trainers.spare_pid(), flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    spare_pid = int(parent.stdout.readline())
    assert not gone(spare_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    wait_until(lambda: gone(spare_pid), what="the spare to exit with its parent")


async def test_the_app_warms_a_spare_after_its_first_frame_and_lets_it_go_on_exit(runs_dir):
    app = TuiRlApp(runs_dir=runs_dir, warm_trainer=True)
    async with app.run_test() as pilot:
        await until(pilot, warm_trainers.spare_pid, what="a spare trainer")
        spare_pid = warm_trainers.spare_pid()
    assert warm_trainers.spare_pid() is None
    wait_until(lambda: gone(spare_pid), what="the spare to exit with the app")


#: The app in a fresh interpreter (the tests' own has torch loaded): it shows the specs, takes
#: `s`, and once the run shows RUNNING (or the start was refused) says what its event log said and
#: whether torch was ever loaded in it.
APP_STARTS_A_RUN = """
import asyncio, sys, time
from pathlib import Path
from tui_rl.config import RunConfig, apply_overrides
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.event_log import EventLog
from tui_rl.tui.widgets.spec_view import SpecView

async def until(pilot, condition, what):
    deadline = time.monotonic() + 240
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        await pilot.pause(0.1)

def log(app):
    return [line.text for line in app.screen.query(EventLog).first().lines] if app.screen.query(EventLog) else []

async def main(runs_dir, overrides):
    app = TuiRlApp(apply_overrides(RunConfig(), overrides), runs_dir=Path(runs_dir), warm_trainer=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.query(SpecView) and app.screen.query_one(SpecView).kind, "the specs")
        print("specs", app.screen.query_one(SpecView).kind, flush=True)
        await pilot.press("s")
        await until(pilot, lambda: getattr(app.screen, "state", "") in ("running", "finished")
                    or any("cannot start" in line for line in log(app)), "RUNNING or a refusal")
        print("state", app.screen.state, flush=True)
        print("log", " ".join(" ".join(log(app)).split()), flush=True)
        print("torch loaded" if "torch" in sys.modules else "no torch", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2:]))
"""


def start_in_a_fresh_app(folder: Path, runs_dir: Path, *overrides: str) -> list[str]:
    """What APP_STARTS_A_RUN printed, line by line, run in ``folder``."""
    from conftest import TINY_DQN

    result = subprocess.run([sys.executable, "-c", APP_STARTS_A_RUN, str(runs_dir), *TINY_DQN,
                             "collector.total_frames=100000", *overrides],
                            cwd=folder, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return [line for line in result.stdout.splitlines() if line]


def test_the_app_shows_the_specs_and_starts_a_run_without_ever_importing_torch(tmp_path, runs_dir):
    printed = start_in_a_fresh_app(tmp_path, runs_dir)
    assert printed[:2] == ["specs discrete", "state running"], printed
    assert printed[3] == "no torch", "the probe and the checks before the run ran in the trainer process"
    assert len(list(runs_dir.iterdir())) == 1


def test_a_run_the_trainer_process_refuses_is_said_naming_the_field_and_leaves_no_folder(tmp_path, runs_dir):
    (tmp_path / "faulty.py").write_text(FAULTY_ENVS)
    printed = start_in_a_fresh_app(tmp_path, runs_dir, "env.id=faulty.py:Stumbles")
    assert printed[:2] == ["specs discrete", "state idle"], printed
    assert "cannot start: env.id:" in printed[2] and "the stepper motor is unplugged" in printed[2], printed
    assert printed[3] == "no torch"
    assert not runs_dir.exists() or not list(runs_dir.iterdir()), "a refused run left a folder"


def test_the_spare_probes_specs_as_here_and_stays_the_spare_after_refusing_a_run(spare, runs_dir):
    from tui_rl.config import ConfigError
    from tui_rl.engine.envs.spec_probe import SpecProbe, probe_specs

    config = tiny_dqn()
    assert SpecProbe.from_json(warm_trainers.ask_spare({"probe": config.model_dump(mode="json")})) == probe_specs(config)
    with pytest.raises(ConfigError) as refused:
        warm_trainers.check_in_spare(tiny_dqn("collector.frames_per_batch=1000"), runs_dir)
    assert [error.path for error in refused.value.errors] == ["collector.frames_per_batch"]
    assert warm_trainers.spare_pid() == spare, "a refusal leaves the spare waiting for the next run"
    checked = warm_trainers.check_in_spare(config, runs_dir)
    handle = RunHandle.start(config, name="checked", runs_dir=runs_dir, spare=checked)
    assert handle.process.pid == spare, "the process that checked the run trains it"
    assert handle.process.wait(timeout=300) == 0, (runs_dir / "checked" / "trainer.log").read_text()


def test_a_spare_started_in_another_folder_leaves_your_files_here_to_a_new_one(tmp_path, monkeypatch, runs_dir):
    from tui_rl.config import ConfigError

    elsewhere, here = tmp_path / "elsewhere", tmp_path / "here"
    elsewhere.mkdir()
    here.mkdir()
    (here / "faulty.py").write_text(FAULTY_ENVS)
    monkeypatch.chdir(elsewhere)
    warm_trainers.warm_up()
    try:
        first = warm_trainers.spare_pid()
        monkeypatch.chdir(here)  # where the user's env file is: a spare of the other folder cannot find it
        with pytest.raises(ConfigError) as refused:
            warm_trainers.check_in_spare(tiny_dqn("env.id=faulty.py:Stumbles"), runs_dir)
        assert "the stepper motor is unplugged" in str(refused.value), "checked by a spare that found the file"
        assert warm_trainers.spare_pid() not in (None, first)
    finally:
        warm_trainers.discard_spare()
