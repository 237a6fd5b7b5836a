"""`tui-rl export`: a run's deterministic policy as TorchScript, ONNX or a state dict, loaded
without tui-rl (nor TorchRL, nor tensordict) and acting as the run's policy on 100 observations."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import trained_run

from tui_rl.cli import main

#: loads the exported files with plain torch and onnxruntime, tui-rl and TorchRL made unimportable
LOADER = """
import sys
for name in ("tui_rl", "torchrl", "tensordict"):
    sys.modules[name] = None
import numpy, onnxruntime, torch
folder = sys.argv[1]
observations = torch.load(folder + "/observations.pt", weights_only=True)
scripted = torch.jit.load(folder + "/policy.pt")
session = onnxruntime.InferenceSession(folder + "/policy.onnx")
torch.save({
    "torchscript": torch.stack([scripted(obs) for obs in observations]),
    "onnx": torch.stack([torch.from_numpy(numpy.asarray(session.run(None, {"observation": obs.numpy()})[0]))
                         for obs in observations]),
}, folder + "/actions.pt")
"""


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("dqn"))


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory) -> Path:
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.runs.record import create_run
    from tui_rl.engine.run.trainer import Trainer

    config = apply_overrides(load_preset("pendulum-sac"), [
        "collector.frames_per_batch=100", "collector.total_frames=300", "collector.init_random_frames=100",
        "replay_buffer.batch_size=32", "network.hidden_sizes=[32]", "eval.every_frames=100000",
        "checkpoint.every_frames=300",
    ])
    run_dir = create_run(config, name="sac", runs_dir=tmp_path_factory.mktemp("sac"))
    assert Trainer(config, run_dir).run() == "finished"
    return run_dir


def recorded(run_dir: Path, steps: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` observations the run's policy met in its env, and its deterministic actions."""
    from torchrl.envs.utils import ExplorationType, set_exploration_type

    from tui_rl.engine.policy.weights import load_run_policy

    run = load_run_policy(run_dir)
    try:
        with set_exploration_type(ExplorationType.DETERMINISTIC), torch.no_grad():
            rollout = run.env.rollout(steps, run.policy, break_when_any_done=False)
    finally:
        run.close()
    return rollout.get("observation").reshape(steps, -1).float(), rollout.get("action").reshape(steps, -1)


@pytest.mark.parametrize("run_fixture", ["dqn_run", "sac_run"])
def test_exported_policies_act_as_the_runs_policy_without_tui_rl(run_fixture, request, tmp_path, capsys):
    run_dir = request.getfixturevalue(run_fixture)
    observations, actions = recorded(run_dir)
    for export_format, name in (("torchscript", "policy.pt"), ("onnx", "policy.onnx")):
        assert main(["export", str(run_dir), "--format", export_format, "-o", str(tmp_path / name)]) == 0
        assert f"wrote {tmp_path / name}" in capsys.readouterr().out
    torch.save(observations, tmp_path / "observations.pt")
    subprocess.run([sys.executable, "-c", LOADER, str(tmp_path)], check=True, timeout=120)
    loaded = torch.load(tmp_path / "actions.pt", weights_only=True)
    for export_format, exported in loaded.items():
        exported = exported.reshape(actions.shape).to(actions.dtype)
        if actions.is_floating_point():  # SAC: the tanh-squashed mean, scaled to the bounds
            assert torch.allclose(exported, actions, atol=1e-5), export_format
            assert actions.std() > 0  # the observations differ enough to tell policies apart
        else:  # DQN: the greedy action of each observation
            assert torch.equal(exported, actions), export_format


def test_a_state_dict_export_loads_with_plain_torch_into_the_same_policy(dqn_run, tmp_path, capsys):
    from torchrl.envs.utils import ExplorationType, set_exploration_type

    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.envs.making import make_env
    from tui_rl.engine.runs.folder import read_config

    path = tmp_path / "policy.state_dict.pt"
    assert main(["export", str(dqn_run), "--format", "state-dict", "-o", str(path), "--checkpoint", "512"]) == 0
    state = torch.load(path, weights_only=True)
    observations, actions = recorded(dqn_run)
    config = read_config(dqn_run)
    env = make_env(config, num_envs=1)
    fresh = build_algorithm(config, env, "cpu").eval_policy
    env.close()
    fresh.load_state_dict(state)
    with set_exploration_type(ExplorationType.DETERMINISTIC), torch.no_grad():
        from tensordict import TensorDict

        again = fresh(TensorDict(observation=observations, batch_size=[len(observations)])).get("action")
    assert torch.equal(again.reshape(actions.shape), actions)


def test_the_default_file_is_named_for_the_run_and_checkpoint_in_the_working_directory(dqn_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(dqn_run)]) == 0
    assert (tmp_path / "tiny-512.pt").is_file()
    assert "wrote tiny-512.pt (torchscript, checkpoint at 512 frames)" in capsys.readouterr().out


def test_a_run_without_that_checkpoint_or_any_is_refused_with_exit_2(dqn_run, runs_dir, tmp_path, capsys):
    from conftest import cartpole_dqn

    from tui_rl.engine.runs.record import create_run

    fresh = create_run(cartpole_dqn(), name="fresh", runs_dir=runs_dir)
    assert main(["export", "fresh", "--runs-dir", str(runs_dir), "-o", str(tmp_path / "p.pt")]) == 2
    err = capsys.readouterr().err
    assert "fresh: no checkpoint to export yet" in err and "Traceback" not in err
    assert not (tmp_path / "p.pt").exists() and fresh.is_dir()
    assert main(["export", str(dqn_run), "--checkpoint", "7", "-o", str(tmp_path / "p.pt")]) == 2
    assert "has no checkpoint at 7 frames (checkpoints: 512, 256)" in capsys.readouterr().err


def test_onnx_without_its_package_is_refused_naming_the_extra(dqn_run, tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else find_spec(name, *a))
    assert main(["export", str(dqn_run), "--format", "onnx", "-o", str(tmp_path / "p.onnx")]) == 2
    assert "pip install 'tui-rl[export]'" in capsys.readouterr().err
    assert not (tmp_path / "p.onnx").exists()


def test_export_refuses_targets_it_would_damage_and_says_why(dqn_run, tmp_path, small_filesystem, capsys):
    kept = tmp_path / "kept.pt"
    kept.write_bytes(b"mine")
    link = tmp_path / "link.pt"
    link.symlink_to(kept)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    read_only = small_filesystem(read_only=True)
    before = {path: path.read_bytes() for path in (dqn_run / "run.json", dqn_run / "config.toml",
                                                   dqn_run / "checkpoints" / "512" / "components" / "0000-algorithm" / "state.pt")}
    refused = {
        "": "names a folder", ".": "names a folder", str(folder): "is a folder",
        str(tmp_path / ("x" * 300)): "File name too long",
        str(link): "is a symbolic link", str(fifo): "is not a regular file",
        str(kept): "already exists", str(read_only / "p.pt"): "cannot write in",
        **{str(path): f"lies inside the run folder {dqn_run}" for path in before},
        str(dqn_run / "checkpoints" / "new.pt"): "lies inside the run folder",
    }
    for target, reason in refused.items():
        force = ["--force"] if target == str(dqn_run / "run.json") else []  # still refused
        assert main(["export", str(dqn_run), "-o", target, *force]) == 2
        err = capsys.readouterr().err
        assert reason in err and "Traceback" not in err, (target, err)
    assert kept.read_bytes() == b"mine" and link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert all(path.read_bytes() == data for path, data in before.items())
    assert not (dqn_run / "checkpoints" / "new.pt").exists()
    assert main(["export", str(dqn_run), "-o", str(kept), "--force"]) == 0
    assert torch.jit.load(str(kept)) is not None and not list(tmp_path.glob(".kept.pt*"))
