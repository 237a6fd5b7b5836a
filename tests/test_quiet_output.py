"""What a run leaves in the terminal and in its trainer log: plain text only, and an ALE run ends
without nanobind's report of leaked objects. Real trainers in real subprocesses."""

from __future__ import annotations

from conftest import PATIENCE_S, cartpole_dqn

from tui_rl.config import apply_overrides
from tui_rl.engine.channel.launch import launch_trainer
from tui_rl.engine.runs.record import create_run
from tui_rl.engine.runs.folder import LOG_FILE


def test_the_trainer_log_is_plain_text(runs_dir, monkeypatch):
    monkeypatch.setenv("RL_LOGGING_LEVEL", "INFO")  # TorchRL's info lines (which it colours) reach the log
    config = apply_overrides(cartpole_dqn(), ["collector.total_frames=256", "eval.episodes=1"])
    run_dir = create_run(config, name="plain", runs_dir=runs_dir)
    process = launch_trainer(run_dir)
    assert process.wait(timeout=PATIENCE_S) == 0
    log = (run_dir / LOG_FILE).read_text()
    assert "[torchrl][INFO]" in log, log  # TorchRL said something...
    assert "\x1b" not in log, log  # ...in plain text
