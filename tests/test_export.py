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

#: loads the exported files with plain torch and onnxruntime, tui-rl and TorchRL made unimportable,
#: and acts on each row of the inputs (by name, in the order the files take them)
LOADER = """
import sys
for name in ("tui_rl", "torchrl", "tensordict"):
    sys.modules[name] = None
import numpy, onnxruntime, torch
folder = sys.argv[1]
inputs = torch.load(folder + "/inputs.pt", weights_only=True)
rows = range(len(next(iter(inputs.values()))))
scripted = torch.jit.load(folder + "/policy.pt")
session = onnxruntime.InferenceSession(folder + "/policy.onnx")
torch.save({
    "torchscript": torch.stack([scripted(*(value[i] for value in inputs.values())) for i in rows]),
    "onnx": torch.stack([torch.from_numpy(numpy.asarray(session.run(
        None, {name: value[i].numpy() for name, value in inputs.items()})[0])) for i in rows]),
}, folder + "/actions.pt")
"""

#: an env of a user's whose Dict holds an image (read by a ConvNet), a vector and an action mask
LOOKOUT = '''
import gymnasium
import numpy as np


class Lookout(gymnasium.Env):
    """A camera shows which of three doors pays (the row lit brightest), a compass says nothing
    useful, and the action mask closes one door at random each step; 12 steps an episode."""

    action_space = gymnasium.spaces.Discrete(3)
    observation_space = gymnasium.spaces.Dict({
        "camera": gymnasium.spaces.Box(0, 255, (3, 6, 6), np.uint8),
        "compass": gymnasium.spaces.Box(-1, 1, (2,), np.float32),
        "action_mask": gymnasium.spaces.MultiBinary(3),
    })

    def observe(self):
        self.door = int(self.np_random.integers(3))
        camera = self.np_random.integers(0, 100, (3, 6, 6)).astype(np.uint8)
        camera[:, 2 * self.door] = 255
        self.open = np.ones(3, np.int8)
        self.open[self.np_random.integers(3)] = 0
        compass = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return {"camera": camera, "compass": compass, "action_mask": self.open}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observe(), {}

    def step(self, action):
        reward = float(action == self.door) if self.open[action] else -1.0
        self.t += 1
        return self.observe(), reward, False, self.t >= 12, {}


class Dials(Lookout):
    """Two dials to set (a door of three, a speed of two), the mask flat over both dials' choices."""

    action_space = gymnasium.spaces.MultiDiscrete([3, 2])
    observation_space = gymnasium.spaces.Dict({
        "camera": gymnasium.spaces.Box(0, 255, (3, 6, 6), np.uint8),
        "compass": gymnasium.spaces.Box(-1, 1, (2,), np.float32),
        "action_mask": gymnasium.spaces.MultiBinary(5),
    })

    def observe(self):
        seen = super().observe()
        seen["action_mask"] = np.concatenate([self.open, self.np_random.permutation([0, 1]).astype(np.int8)])
        return seen

    def step(self, action):
        return super().step(int(action[0]))
'''

CORRIDOR = Path(__file__).parent.parent / "examples" / "corridor.py"
SMALL_CONVNET = ("network.conv_channels=[4]", "network.conv_kernels=[3]", "network.conv_strides=[1]")


def trained(runs_dir: Path, preset: str, *overrides: str) -> Path:
    """A run of ``preset`` with ``overrides``, trained briefly in this process."""
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.run.trainer import Trainer
    from tui_rl.engine.runs.record import create_run

    config = apply_overrides(load_preset(preset), [
        "collector.frames_per_batch=128", "collector.total_frames=256", "eval.every_frames=100000",
        "checkpoint.every_frames=256", "network.hidden_sizes=[16]", *overrides,
    ])
    run_dir = create_run(config, name=preset, runs_dir=runs_dir)
    assert Trainer(config, run_dir).run() == "finished"
    return run_dir


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


def run_exported(folder: Path, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The actions of the TorchScript and ONNX files in ``folder`` on each row of ``inputs``,
    loaded in another Python with plain torch and onnxruntime."""
    torch.save(inputs, folder / "inputs.pt")
    subprocess.run([sys.executable, "-c", LOADER, str(folder)], check=True, timeout=120)
    return torch.load(folder / "actions.pt", weights_only=True)


@pytest.mark.parametrize("run_fixture", ["dqn_run", "sac_run"])
def test_exported_policies_act_as_the_runs_policy_without_tui_rl(run_fixture, request, tmp_path, capsys):
    run_dir = request.getfixturevalue(run_fixture)
    observations, actions = recorded(run_dir)
    for export_format, name in (("torchscript", "policy.pt"), ("onnx", "policy.onnx")):
        assert main(["export", str(run_dir), "--format", export_format, "-o", str(tmp_path / name)]) == 0
        assert f"wrote {tmp_path / name}" in capsys.readouterr().out
    for export_format, exported in run_exported(tmp_path, {"observation": observations}).items():
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


@pytest.fixture(scope="module")
def masked_runs(tmp_path_factory) -> dict[str, Path]:
    """Runs on a user's Dict envs with action masks: the corridor (a vector and the mask) by PPO
    and DQN, the lookout (an image read by a ConvNet, a vector and the mask) by PPO, and its dials
    (a MultiDiscrete action, the mask flat over its parts) by A2C."""
    runs_dir = tmp_path_factory.mktemp("masked")
    lookout = runs_dir / "lookout.py"
    lookout.write_text(LOOKOUT)
    corridor = f"env.id={CORRIDOR}:Corridor"
    return {
        "corridor-ppo": trained(runs_dir / "a", "cartpole-ppo", corridor),
        "corridor-dqn": trained(runs_dir / "b", "cartpole-dqn", corridor, "collector.init_random_frames=128"),
        "lookout-ppo": trained(runs_dir / "c", "cartpole-ppo", f"env.id={lookout}:Lookout", *SMALL_CONVNET),
        "dials-a2c": trained(runs_dir / "d", "cartpole-a2c", f"env.id={lookout}:Dials", *SMALL_CONVNET),
    }


def observed_inputs(run_dir: Path, choices: tuple[int, ...], steps: int = 60) -> dict[str, torch.Tensor]:
    """What the run's policy read on ``steps`` steps of its env, by dotted key, then the same
    observations under every mask that leaves each part of the action (``choices`` each) one or
    more legal choices (so the mask decides some of the actions), in the order the files take them."""
    import itertools

    from torchrl.envs.utils import ExplorationType, set_exploration_type

    from tui_rl.engine.policy.weights import load_run_policy

    run = load_run_policy(run_dir)
    try:
        with set_exploration_type(ExplorationType.DETERMINISTIC), torch.no_grad():
            rollout = run.env.rollout(steps, run.policy, break_when_any_done=False)
        keys = run.policy.in_keys
    finally:
        run.close()
    rollout = rollout.reshape(steps)
    inputs = {key: rollout.get(key) for key in keys}
    per_part = [[legal for legal in itertools.product([False, True], repeat=n) if any(legal)] for n in choices]
    masks = [torch.tensor(sum(parts, ())) for parts in itertools.product(*per_part)]
    every = {key: torch.cat([value] * len(masks)) for key, value in inputs.items()}
    every["action_mask"] = torch.stack(masks).repeat_interleave(steps, dim=0)
    return {".".join(key) if isinstance(key, tuple) else key: value.float() if value.is_floating_point() else value
            for key, value in every.items()}


def run_policy_on(run_dir: Path, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The run's deterministic actions on ``inputs`` (by dotted key), as TorchRL computes them."""
    from tensordict import TensorDict
    from torchrl.envs.utils import ExplorationType, set_exploration_type

    from tui_rl.engine.policy.weights import load_run_policy

    run = load_run_policy(run_dir)
    try:
        data = TensorDict({tuple(key.split(".")): value for key, value in inputs.items()},
                          batch_size=[len(inputs["action_mask"])])
        with set_exploration_type(ExplorationType.DETERMINISTIC), torch.no_grad():
            return run.policy(data).get("action")
    finally:
        run.close()


@pytest.mark.parametrize("run_name, choices", [("corridor-ppo", (2,)), ("corridor-dqn", (2,)),
                                               ("lookout-ppo", (3,)), ("dials-a2c", (3, 2))])
def test_a_masked_policy_reading_a_dict_exports_taking_each_key_and_the_mask(masked_runs, run_name, choices,
                                                                             tmp_path, capsys):
    run_dir = masked_runs[run_name]
    inputs = observed_inputs(run_dir, choices)
    for export_format, name in (("torchscript", "policy.pt"), ("onnx", "policy.onnx")):
        assert main(["export", str(run_dir), "--format", export_format, "-o", str(tmp_path / name)]) == 0
        out = capsys.readouterr().out
        assert "action_mask [" in out and "bool (True: legal)" in out, out
    assert list(inputs)[-1] == "action_mask" and out.count("[") >= len(inputs)
    expected = run_policy_on(run_dir, inputs).reshape(len(inputs["action_mask"]), len(choices))
    masks = inputs["action_mask"].split(list(choices), dim=-1)  # one per part of the action
    for export_format, exported in run_exported(tmp_path, inputs).items():
        exported = exported.reshape(expected.shape).to(expected.dtype)
        assert torch.equal(exported, expected), export_format
        for part, mask in enumerate(masks):
            assert mask.gather(-1, exported[:, part:part + 1]).all(), f"{export_format}: an illegal action taken"
    for part, mask in enumerate(masks):
        forced = mask.sum(-1) == 1  # one legal choice: the mask alone decides it
        assert forced.any() and (expected[forced, part] == mask[forced].float().argmax(-1)).all()


def test_a_policy_with_a_memory_core_is_refused_naming_the_field(tmp_path, capsys):
    run_dir = trained(tmp_path, "cartpole-masked-lstm", "collector.total_frames=128", "checkpoint.every_frames=128")
    assert main(["export", str(run_dir), "-o", str(tmp_path / "p.pt")]) == 2
    err = capsys.readouterr().err
    assert "network.recurrent = 'lstm'" in err and "hidden state is carried between steps" in err, err
    assert "Traceback" not in err and not (tmp_path / "p.pt").exists()
