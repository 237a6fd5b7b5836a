"""Whatever the checks let through trains. Over combinations no preset ships, generated from the
registries (an env of every family, every algorithm, each encoder and memory core, the single and
processes backends), each run of one update is either refused before it starts (exit 2, a message,
no traceback) or finishes: never "checks pass, then the run crashes"."""

from __future__ import annotations

import itertools

import pytest
from conftest import needs

from tui_rl.cli import main
from tui_rl.config import ConfigError, save_file, validate
from tui_rl.config.algorithms import ALGORITHMS
from tui_rl.engine.envs.families import family_of
from tui_rl.engine.runs.folder import read_summary

pytestmark = pytest.mark.slow

#: one env of every family (and of Gymnasium's toy text), with the module it needs and its extra
ENVS = {
    "CartPole-v1": None, "Pendulum-v1": None, "FrozenLake-v1": None, "LunarLander-v3": ("Box2D", "box2d"),
    "InvertedPendulum-v5": ("mujoco", "mujoco"), "ALE/Pong-v5": ("ale_py", "atari"),
    "MinAtar/Breakout-v1": ("minatar", "minatar"), "dm_control/cartpole-swingup": ("dm_control", "dmcontrol"),
}
NETWORKS = [("mlp", "none"), ("mlp", "lstm"), ("convnet", "none"), ("convnet", "gru")]
#: one update, as small as each algorithm allows; evaluation short
SMALL = {
    "collector": {"frames_per_batch": 32, "total_frames": 64, "init_random_frames": 32},
    "replay_buffer": {"size": 1000, "batch_size": 16},
    "eval": {"every_frames": 64, "episodes": 1},
    "checkpoint": {"every_frames": 64},
}


def config_for(env_id: str, algorithm: str, encoder: str, memory: str, backend: str) -> dict:
    family = family_of(env_id)
    return {
        **SMALL,
        "env": {"id": env_id, "kwargs": dict(family.kwargs) if family else {}, "max_episode_steps": 40},
        "transforms": [dict(t) for t in family.transforms] if family else [],
        "algorithm": {"name": algorithm},
        "network": {"encoder": encoder, "recurrent": memory, "recurrent_size": 16, "hidden_sizes": [16],
                    "conv_channels": [4, 4, 4]},
        "collector": {**SMALL["collector"], "backend": backend, "workers": 1 if backend == "single" else 2},
    }


CASES = [
    pytest.param(env_id, algorithm, encoder, memory, "single", id=f"{env_id}-{algorithm}-{encoder}-{memory}")
    for env_id, algorithm, (encoder, memory) in itertools.product(ENVS, ALGORITHMS, NETWORKS)
] + [  # the processes backend: each env with one algorithm that acts in it
    pytest.param(env_id, algorithm, encoder, "none", "processes", id=f"{env_id}-{algorithm}-{encoder}-processes")
    for env_id, algorithm, encoder in [("CartPole-v1", "ppo", "mlp"), ("Pendulum-v1", "sac", "mlp"),
                                       ("MinAtar/Breakout-v1", "dqn", "convnet")]
]


@pytest.mark.parametrize("env_id, algorithm, encoder, memory, backend", CASES)
def test_a_combination_is_refused_up_front_or_trains(env_id, algorithm, encoder, memory, backend, tmp_path, runs_dir,
                                                      capsys):
    if ENVS[env_id] is not None:
        needs(*ENVS[env_id])
    try:
        config = validate(config_for(env_id, algorithm, encoder, memory, backend))
    except ConfigError:
        return  # refused as the config is read (a memory core for an off-policy algorithm)
    preset = tmp_path / "combination.toml"
    save_file(config, preset)
    code = main(["train", str(preset), "--name", "combination", "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    if code == 2:
        assert not (runs_dir / "combination").exists() and ": " in err, err
        return
    run_dir = runs_dir / "combination"
    log = (run_dir / "trainer.log").read_text() if (run_dir / "trainer.log").exists() else ""
    assert code == 0 and read_summary(run_dir).status == "finished", err + log[-3000:]
