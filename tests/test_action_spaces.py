"""Action spaces no tui-rl algorithm takes yet (MultiDiscrete, MultiBinary) are refused before a run
starts, naming env.id and the space: never "checks pass, then the run crashes" (they once failed at
the first batch with "'ContinuousBox' object has no attribute 'n'")."""

from __future__ import annotations

import pytest

from tui_rl.cli import main
from tui_rl.config import validate
from tui_rl.engine.envs.making import action_kind, describe_specs, make_env

SPACES = '''
import gymnasium
import numpy as np


class Switches(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1, 1, (3,), np.float32)

    def __init__(self, action_space):
        self.action_space = action_space

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, np.float32), {}

    def step(self, action):
        return np.zeros(3, np.float32), 0.0, False, False, {}


def multi_discrete():
    return Switches(gymnasium.spaces.MultiDiscrete([3, 2]))


def multi_binary():
    return Switches(gymnasium.spaces.MultiBinary(4))
'''


@pytest.fixture
def spaces(tmp_path, monkeypatch):
    (tmp_path / "spaces.py").write_text(SPACES)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("maker, kind, shown", [("multi_discrete", "multi-discrete", "multi-discrete: [3, 2] choices"),
                                                ("multi_binary", "binary", "binary [4]")])
def test_the_specs_name_the_space(spaces, maker, kind, shown):
    env = make_env(validate({"env": {"id": f"spaces.py:{maker}"}}))
    try:
        assert action_kind(env) == kind and describe_specs(env)["action"] == shown
    finally:
        env.close()


@pytest.mark.parametrize("preset", ["cartpole-dqn", "cartpole-ppo", "pendulum-sac"])
@pytest.mark.parametrize("maker, kind", [("multi_discrete", "multi-discrete"), ("multi_binary", "binary")])
def test_every_algorithm_refuses_the_space_before_a_run_folder_exists(spaces, runs_dir, capsys, preset, maker, kind):
    code = main(["train", preset, "--set", f"env.id=spaces.py:{maker}", "--frames", "256", "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"env.id: spaces.py:{maker} has a {kind} action space, which no tui-rl algorithm takes yet" in err
    assert "Traceback" not in err and not runs_dir.exists()
