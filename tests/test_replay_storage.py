"""Replay storages: tensor, memmap (files in the run folder, checkpointed file to file) and list.
Real TorchRL buffers, real trainers, real checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy
import pytest
import torch
from tensordict import TensorDict

from tui_rl.config import ConfigError, validate
from tui_rl.config.models import ReplayBufferConfig
from tui_rl.engine.algorithms.replay import make_replay_buffer
from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.compat import replay_state_dict, storage_contents
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.run.preflight import check_replay_memory
from tui_rl.engine.runs.record import create_run
from tui_rl.engine.runs.folder import REPLAY_DIR
from tui_rl.engine.run.trainer import Trainer

from conftest import tiny_dqn, train_run


def image_transitions(count: int) -> TensorDict:
    """Transitions with 84x84 uint8 frames, as an Atari env with its preprocessing gives them."""
    frames = torch.randint(0, 256, (count, 4, 84, 84), dtype=torch.uint8)
    return TensorDict({
        "pixels": frames,
        "action": torch.randint(0, 4, (count,)),
        "next": {"pixels": frames.roll(1, 0), "reward": torch.randn(count, 1),
                 "done": torch.zeros(count, 1, dtype=torch.bool)},
    }, batch_size=[count])


@pytest.mark.parametrize("storage", ["tensor", "memmap", "list"])
def test_uint8_pixels_stay_uint8_in_storage(storage, tmp_path):
    buffer = make_replay_buffer(ReplayBufferConfig(size=64, batch_size=8, storage=storage), "cpu", tmp_path)
    buffer.extend(image_transitions(16))
    stored = storage_contents(buffer)
    first = stored[0] if storage == "list" else stored
    assert first["pixels"].dtype == torch.uint8 and first["next", "pixels"].dtype == torch.uint8
    assert buffer.sample(8)["pixels"].dtype == torch.uint8
    if storage == "memmap":
        assert first.is_memmap() and list(tmp_path.rglob("pixels.memmap")), "its files live in the scratch dir"


def replay_contents(trainer) -> TensorDict:
    buffer = trainer.parts.algorithm.replay_buffer
    return storage_contents(buffer)[: len(buffer)].to_tensordict()  # a copy in RAM


MEMMAP = tiny_dqn("replay_buffer.storage=memmap")


@pytest.fixture(scope="module")
def memmap_run(tmp_path_factory):
    """A finished tiny DQN run on a memmap buffer, checkpointed at 300 and 600 frames."""
    run_dir = create_run(MEMMAP, runs_dir=tmp_path_factory.mktemp("runs"), name="memmap")
    trainer, _ = train_run(MEMMAP, run_dir)
    assert trainer.state == "finished"
    return trainer, run_dir


def test_a_memmap_buffer_lives_in_the_run_folder_and_survives_a_checkpoint_and_resume(memmap_run):
    config = MEMMAP
    trainer, run_dir = memmap_run
    assert list((run_dir / REPLAY_DIR).rglob("*.memmap")), "the storage's files are in the run folder"
    saved = replay_contents(trainer)
    assert len(saved) == 600

    checkpoint = CheckpointStore(run_dir, keep=2).latest()
    assert checkpoint.name == "600"
    component = next(checkpoint.rglob("transitions")).parent
    state = torch.load(component / "state.pt", weights_only=True)
    assert state["_storage"]["_storage"] == {}, "no transition is copied into state.pt"

    # The live files may move on after a checkpoint: the resume reads the checkpoint's own copy.
    for path in (run_dir / REPLAY_DIR).rglob("*.memmap"):
        path.write_bytes(b"\0" * path.stat().st_size)
    resumed = Trainer(config, run_dir, lambda event: None, from_checkpoint=True)
    try:
        resumed.setup()
        restored = replay_contents(resumed)
        assert (restored == saved).all()
        buffer = resumed.parts.algorithm.replay_buffer
        assert len(buffer) == 600 and buffer.write_count == trainer.parts.algorithm.replay_buffer.write_count
    finally:
        resumed.close()


def test_a_checkpoint_missing_its_transitions_falls_back_to_the_older_one(memmap_run, tmp_path):
    config = MEMMAP
    run_dir = Path(shutil.copytree(memmap_run[1], tmp_path / "torn"))
    newest = CheckpointStore(run_dir, keep=2).latest()
    for folder in newest.rglob("transitions"):
        for path in folder.rglob("*.memmap"):
            path.unlink()
    resumed = Trainer(config, run_dir, lambda event: None, from_checkpoint=True)
    try:
        resumed.setup()
        assert resumed.counters.frames == 300 and len(resumed.parts.algorithm.replay_buffer) == 300
    finally:
        resumed.close()


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def resumed_buffer(config, run_dir: Path):
    """The replay buffer of ``run_dir`` as a resume from its newest checkpoint restores it."""
    resumed = Trainer(config, run_dir, lambda event: None, from_checkpoint=True)
    resumed.setup()
    resumed.close()
    return resumed.parts.algorithm.replay_buffer


def assert_same_buffer(restored, saved) -> None:
    """Same rows, same write cursor, and the same draws from the same random state (a prioritised
    sampler on the CPU draws with numpy's)."""
    assert len(restored) == len(saved) and restored.write_count == saved.write_count
    assert restored.state_dict()["_writer"] == saved.state_dict()["_writer"]
    assert (storage_contents(restored)[: len(restored)] == storage_contents(saved)[: len(saved)]).all()
    draws = []
    for buffer in (restored, saved):
        torch.manual_seed(7)
        numpy.random.seed(7)
        draws.append(buffer.sample(64))
    assert (draws[0] == draws[1]).all()


@pytest.mark.parametrize("sampler", ["random", "prioritized"])
def test_a_checkpoint_holds_only_the_filled_rows_of_a_tensor_buffer_and_restores_it_exactly(tmp_path, sampler):
    config = tiny_dqn("replay_buffer.size=100000", f"replay_buffer.sampler={sampler}")
    run_dir = create_run(config, runs_dir=tmp_path / "runs", name="tensor")
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "finished"
    saved = trainer.parts.algorithm.replay_buffer
    assert len(saved) == 600

    checkpoint = CheckpointStore(run_dir, keep=2).latest()
    component = next(checkpoint.rglob("transitions")).parent
    state = torch.load(component / "state.pt", weights_only=True)
    assert state["_storage"]["_storage"] == {}, "no transition is copied into state.pt"
    full = storage_contents(saved).bytes()  # 100,000 preallocated rows
    assert folder_bytes(component) < full / 50, "the checkpoint holds more than the 600 filled rows"

    assert_same_buffer(resumed_buffer(config, run_dir), saved)

    # A checkpoint written before (the whole preallocated storage in state.pt) still loads.
    shutil.rmtree(component / "transitions")
    torch.save(replay_state_dict(saved), component / "state.pt")
    assert_same_buffer(resumed_buffer(config, run_dir), saved)


def test_list_storage_trains_and_resumes_with_its_transitions(tmp_path):
    config = tiny_dqn("replay_buffer.storage=list", "collector.total_frames=300")
    run_dir = create_run(config, runs_dir=tmp_path / "runs", name="list")
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "finished"
    saved = torch.stack(storage_contents(trainer.parts.algorithm.replay_buffer))
    resumed = Trainer(config, run_dir, lambda event: None, from_checkpoint=True)
    try:
        resumed.setup()
        restored = torch.stack(storage_contents(resumed.parts.algorithm.replay_buffer))
        assert len(restored) == 300 and (restored == saved).all()
    finally:
        resumed.close()


def test_preflight_counts_a_memmap_buffer_as_disk_not_ram(tmp_path, monkeypatch):
    import tui_rl.engine.run.preflight as preflight

    config = validate({"replay_buffer": {"size": 1_000_000, "storage": "memmap"}})
    env = make_env(config)
    try:
        monkeypatch.setattr(preflight, "memory_bytes", lambda device: 1_000)  # far too little RAM
        check_replay_memory(config, env, tmp_path)  # the disk holds it
        monkeypatch.setattr(preflight, "disk_bytes", lambda runs_dir: 1_000)
        with pytest.raises(ConfigError) as raised:
            check_replay_memory(config, env, tmp_path)
        assert raised.value.errors[0].path == "replay_buffer.size"
        assert "free disk" in str(raised.value) and "storage = memmap" in str(raised.value)
    finally:
        env.close()


def test_a_memmap_buffer_is_checked_against_the_disk_of_the_runs_dir_given(small_filesystem, capsys):
    from tui_rl.cli import main

    runs = small_filesystem("20m") / "runs"  # the working folder's disk has far more room
    code = main(["train", "cartpole-dqn", "--runs-dir", str(runs), "--frames", "1000",
                 "--set", "replay_buffer.storage=memmap", "--set", "replay_buffer.size=1000000"])
    err = capsys.readouterr().err
    assert code == 2 and "replay_buffer.size" in err and f"free disk under {runs}" in err
    assert not runs.exists() or not list(runs.iterdir())
