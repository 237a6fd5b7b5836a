"""Checkpoints from a run folder are data, never code; a broken newest one falls back to an intact
older one; with none intact, a resume fails and keeps the run's history. Real trainers, real files."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.protocol import Log
from tui_rl.engine.runs.folder import read_metrics, read_summary
from tui_rl.engine.runs.record import create_run

from conftest import of_type, tiny_dqn, train_run


class WritesMarker:
    """Unpickling this creates a file: the proof that a loader ran code from the run folder."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def trained(tmp_path):
    """A finished tiny DQN run with checkpoints at 300 and 600 frames (replay buffer included)."""
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=tmp_path / "runs", name="trained")
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "finished"
    return config, run_dir


def component(checkpoint: Path, name: str) -> Path:
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    return checkpoint / manifest["components"][name]["path"]


def set_manifest(checkpoint: Path, name: str, **record) -> None:
    path = checkpoint / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["components"][name].update(record)
    path.write_text(json.dumps(manifest))


def skipped(events) -> list[str]:
    return [e.message for e in of_type(events, Log) if "skipped" in e.message]


def truncate(path: Path) -> None:
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size // 2)


# ---- no code from the run folder ------------------------------------------------------------------


def plant_prefetch_pickle(checkpoint: Path, marker: Path) -> None:
    """What TorchRL's replay-buffer dump writes and its load unpickles: ``prefetch.pkl``."""
    folder = component(checkpoint, "replay_buffer")
    (folder / "prefetch.pkl").write_bytes(pickle.dumps(WritesMarker(marker)))
    set_manifest(checkpoint, "replay_buffer", files=["prefetch.pkl", "state.pt"])


def plant_dump_load_buffer(checkpoint: Path, marker: Path) -> None:
    """A replay buffer in TorchRL's dump/load form (the form older tui-rl checkpoints used)."""
    folder = component(checkpoint, "replay_buffer")
    (folder / "state.pt").unlink()
    (folder / "prefetch.pkl").write_bytes(pickle.dumps(WritesMarker(marker)))
    set_manifest(checkpoint, "replay_buffer", adapter="torchrl.dump_load", files=["prefetch.pkl"])


def plant_pickled_state(checkpoint: Path, marker: Path) -> None:
    """A ``state.pt`` that is a full pickle: only ``torch.load(weights_only=False)`` would run it."""
    torch.save({"state": WritesMarker(marker)}, component(checkpoint, "algorithm") / "state.pt")


@pytest.mark.parametrize("plant", [plant_prefetch_pickle, plant_dump_load_buffer, plant_pickled_state])
def test_a_pickle_planted_in_a_checkpoint_never_runs_on_resume(trained, tmp_path, plant):
    config, run_dir = trained
    marker = tmp_path / "pwned"
    plant(run_dir / "checkpoints" / "600", marker)

    resumed, events = train_run(config, run_dir, from_checkpoint=True)
    assert not marker.exists()
    assert resumed.state == "finished" and resumed.counters.frames == 600
    messages = " ".join(e.message for e in of_type(events, Log))
    if plant is plant_pickled_state:  # that checkpoint is unusable: the older one is used
        assert "checkpoint at 600 frames skipped" in messages and "resumed from the checkpoint at 300" in messages
    else:  # the pickled buffer is left out, said so, and the buffer refills
        assert "never loaded" in messages and len(resumed.parts.algorithm.replay_buffer) == 0


# ---- symbolic links --------------------------------------------------------------------------------


def test_a_checkpoint_that_is_a_symlink_out_of_the_run_folder_is_refused(trained, tmp_path):
    config, run_dir = trained
    outside = tmp_path / "elsewhere"
    shutil.move(run_dir / "checkpoints" / "600", outside)
    (run_dir / "checkpoints" / "600").symlink_to(outside)

    resumed, events = train_run(config, run_dir, from_checkpoint=True)
    assert any("checkpoint at 600 frames skipped" in m and "symbolic link" in m for m in skipped(events))
    assert "resumed from the checkpoint at 300 frames" in [e.message for e in of_type(events, Log)]
    assert resumed.state == "finished" and outside.is_dir()


def test_a_file_in_a_checkpoint_that_is_a_symlink_is_refused(trained, tmp_path):
    config, run_dir = trained
    state = component(run_dir / "checkpoints" / "600", "algorithm") / "state.pt"
    outside = tmp_path / "state.pt"
    shutil.move(state, outside)
    state.symlink_to(outside)

    _, events = train_run(config, run_dir, from_checkpoint=True)
    assert any("checkpoint at 600 frames skipped" in m and "symbolic link" in m for m in skipped(events))


def test_a_checkpoints_folder_that_is_a_symlink_fails_the_resume(trained, tmp_path):
    config, run_dir = trained
    outside = tmp_path / "elsewhere"
    shutil.move(run_dir / "checkpoints", outside)
    (run_dir / "checkpoints").symlink_to(outside)

    resumed, _ = train_run(config, run_dir, from_checkpoint=True)
    assert resumed.state == "failed" and "symbolic link" in resumed.reason
    assert (outside / "600").is_dir()


# ---- corrupt checkpoints ---------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["algorithm", "replay_buffer"])
def test_a_truncated_newest_checkpoint_falls_back_to_the_older_one(trained, part):
    config, run_dir = trained
    truncate(component(run_dir / "checkpoints" / "600", part) / "state.pt")

    resumed, events = train_run(config, run_dir, from_checkpoint=True)
    assert any(m.startswith("checkpoint at 600 frames skipped") for m in skipped(events))
    assert "resumed from the checkpoint at 300 frames" in [e.message for e in of_type(events, Log)]
    assert resumed.state == "finished" and resumed.counters.frames == 600
    assert len(resumed.parts.algorithm.replay_buffer) == 600  # 300 restored, 300 collected again
    assert [f for f, _ in read_metrics(run_dir)["fps"]] == [100, 200, 300, 400, 500, 600]


@pytest.mark.parametrize("damage", ["truncate", "manifest"])
def test_with_every_checkpoint_corrupt_the_resume_fails_and_keeps_the_history(trained, damage):
    config, run_dir = trained
    for checkpoint in CheckpointStore(run_dir, 2).checkpoints():
        if damage == "truncate":
            truncate(component(checkpoint, "algorithm") / "state.pt")
        else:
            (checkpoint / "manifest.json").write_text("{not json")
    before = read_metrics(run_dir)

    resumed, _ = train_run(config, run_dir, from_checkpoint=True)
    assert resumed.state == "failed"
    assert resumed.counters.frames == read_summary(run_dir).frames == 600  # run.json keeps its count
    assert "none of the 2 checkpoints of this run can be loaded" in resumed.reason
    assert "`tui-rl train --resume trained --from-scratch`" in resumed.reason
    assert read_metrics(run_dir) == before
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["300", "600"]


def test_with_nothing_loadable_resume_and_branch_are_refused_unless_asked_to_start_fresh(trained, capsys):
    """Every component in TorchRL's dump form (never loaded): no "resumed from" with new networks."""
    from tui_rl.cli import main

    _, run_dir = trained
    for checkpoint in CheckpointStore(run_dir, 2).checkpoints():
        manifest = json.loads((checkpoint / "manifest.json").read_text())
        for name in manifest["components"]:
            set_manifest(checkpoint, name, adapter="torchrl.dump_load")
    assert main(["train", "--resume", str(run_dir)]) == 1
    out, err = capsys.readouterr()
    assert "none of the 2 checkpoints of this run can be loaded" in out + err and "resumed from" not in out + err
    assert read_summary(run_dir).status == "failed" and read_summary(run_dir).frames == 600
    assert main(["branch", str(run_dir), "--set", "optim.lr=0.01"]) == 2
    assert "networks" in capsys.readouterr().err and len(list(run_dir.parent.iterdir())) == 1
    assert main(["branch", str(run_dir), "--set", "optim.lr=0.01", "--fresh-networks"]) == 0
    assert main(["train", "--resume", str(run_dir), "--from-scratch"]) == 0
    assert read_summary(run_dir).status == "finished"


def fill(folder: Path, leave: int) -> Path:
    """A file taking all of ``folder``'s free space but ``leave`` bytes."""
    import os

    filler = folder / "filler"
    with open(filler, "wb") as file:
        left = shutil.disk_usage(folder).free - leave
        while left > 0:
            left -= file.write(b"\0" * min(left, 1024**2))
    os.sync()
    return filler


def test_a_disk_full_during_a_checkpoint_fails_the_run_saying_so_and_resume_works_once_freed(small_filesystem):
    from tui_rl.engine.protocol import Checkpointed

    disk = small_filesystem("24m")
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=disk / "runs", name="cramped")
    filled = []

    def fill_after_the_first_checkpoint(event) -> None:
        if isinstance(event, Checkpointed) and not filled:
            filled.append(fill(disk, leave=32 * 1024))  # room for the metrics, not the ~50 KB checkpoint

    from tui_rl.engine.run.trainer import Trainer

    trainer = Trainer(config, run_dir, fill_after_the_first_checkpoint)
    assert trainer.run() == "failed"
    summary = read_summary(run_dir)
    assert summary.status == "failed" and summary.reason.startswith("disk full: the checkpoint at 600 frames")
    assert "the checkpoint at 300 frames is intact" in summary.reason and "Traceback" not in summary.reason
    assert [p.name for p in CheckpointStore(run_dir, 2).checkpoints()] == ["300"]
    filled[0].unlink()
    resumed, events = train_run(config, run_dir, from_checkpoint=True)
    assert "resumed from the checkpoint at 300 frames" in [e.message for e in of_type(events, Log)]
    assert resumed.state == "finished"
