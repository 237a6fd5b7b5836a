"""A run folder received from someone else may hold symbolic links pointing out of it: resuming,
recording a video or loading a rollout refuses them, naming the link, and nothing outside is
written or read."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from conftest import crafted_rollout, trained_run

from tui_rl.cli import main


@pytest.fixture(scope="module")
def received(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("received"))


@pytest.fixture
def run_copy(received, tmp_path) -> Path:
    """A fresh copy of the received run, to plant links in."""
    return Path(shutil.copytree(received, tmp_path / "runs" / received.name, symlinks=True))


def plant(run_dir: Path, relative: str, outside: Path) -> Path:
    """Move ``relative`` (file or folder; made when missing) out of the run folder to ``outside``
    and leave a link to it in its place; returns what the link points at."""
    path = run_dir / relative
    if path.exists():
        shutil.move(path, outside)
    elif relative.endswith("/"):
        outside.mkdir()
    else:
        outside.write_bytes(b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(str(path).rstrip("/")).symlink_to(outside)
    return outside


def snapshot(path: Path) -> dict[str, bytes]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(file): file.read_bytes() for file in files}


@pytest.mark.parametrize("relative", [
    "replay/", "events.jsonl", "trainer.log", "run.lock", "metrics/scalars/fps.csv", "metrics/", "rollouts/",
])
def test_resuming_a_run_with_a_link_out_is_refused_and_writes_nothing_outside(run_copy, tmp_path, relative, capsys):
    outside = plant(run_copy, relative, tmp_path / "outside")
    before = snapshot(outside)
    assert main(["train", "--resume", str(run_copy), "--frames", "768"]) == 2
    err = capsys.readouterr().err
    assert f"{relative.rstrip('/')} is a symbolic link" in err and "Traceback" not in err
    assert snapshot(outside) == before


def test_the_trainer_refuses_the_links_itself(run_copy, tmp_path):
    """The app's route: the trainer process is started on the folder without the CLI's checks."""
    from tui_rl.engine.channel.launch import launch_trainer
    from tui_rl.engine.runs.folder import RunFolderError
    from tui_rl.engine.run.serve import serve_run

    outside = plant(run_copy, "events.jsonl", tmp_path / "outside")
    before = snapshot(outside)
    for start in (lambda: launch_trainer(run_copy, from_checkpoint=True),
                  lambda: serve_run(run_copy, from_checkpoint=True)):
        with pytest.raises(RunFolderError, match="events.jsonl is a symbolic link"):
            start()
    assert snapshot(outside) == before


def test_run_files_are_never_appended_through_a_link(run_copy, tmp_path):
    from tui_rl.engine.runs import liveness
    from tui_rl.engine.protocol import Log
    from tui_rl.engine.runs.record import append_event

    outside = plant(run_copy, "events.jsonl", tmp_path / "events")
    before = outside.read_bytes()
    with pytest.raises(OSError) as refused:
        append_event(run_copy, Log("planted"))
    assert refused.value.errno == errno.ELOOP and outside.read_bytes() == before
    lock_target = tmp_path / "made-by-lock"
    (run_copy / "run.lock").unlink()
    (run_copy / "run.lock").symlink_to(lock_target)
    with pytest.raises(OSError):
        liveness.hold(run_copy)
    assert not lock_target.exists()


@pytest.mark.parametrize("relative", ["metrics/scalars/fps.csv", "metrics/scalars/"])
def test_trimming_metrics_never_cuts_a_linked_series(run_copy, tmp_path, relative):
    """An undo trims the series while the run is live, after the checks made at its start."""
    from tui_rl.engine.runs.record import trim_metrics
    from tui_rl.engine.runs.folder import RunFolderError

    outside = plant(run_copy, relative, tmp_path / "outside")
    before = snapshot(outside)
    with pytest.raises(RunFolderError, match=f"{relative.rstrip('/')} is a symbolic link"):
        trim_metrics(run_copy, 0)
    assert snapshot(outside) == before


def test_recording_a_video_into_a_linked_videos_folder_is_refused(run_copy, tmp_path, capsys):
    outside = plant(run_copy, "metrics/videos/", tmp_path / "videos")
    assert main(["eval", str(run_copy), "--episodes", "1", "--record", "--format", "gif"]) == 2
    assert "metrics/videos is a symbolic link" in capsys.readouterr().err
    assert list(outside.iterdir()) == []


def test_a_rollout_whose_tensor_file_is_a_link_is_not_read_through(tmp_path):
    from tui_rl.engine.inspect.rollouts import RolloutError, load_rollout

    folder = crafted_rollout(tmp_path, tmp_path / "unused")
    shutil.rmtree(folder / "info")
    tensor = next(folder.rglob("observation.memmap"))
    plant(folder, str(tensor.relative_to(folder)), tmp_path / "secret.memmap")
    with pytest.raises(RolloutError, match="observation.memmap is a symbolic link"):
        load_rollout(folder)
