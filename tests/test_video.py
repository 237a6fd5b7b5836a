"""Videos of an evaluation episode: TorchRL's VideoRecorder with tui-rl's VideoFileLogger writes
MP4 (PyAV) or GIF (Pillow), and the path reported is the file written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import needs, train_run, trained_run

from tui_rl.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("video"))


def recorded_frames(episode_length: int) -> int:
    """VideoRecorder keeps the reset frame and every ``VIDEO_SKIP``-th step's after it."""
    from tui_rl.engine.inspect.evaluate import VIDEO_SKIP

    return (episode_length + 1) // VIDEO_SKIP


def test_eval_record_writes_an_mp4_with_a_frame_for_every_other_step(run_dir, capsys):
    import av

    assert main(["eval", str(run_dir), "--episodes", "1", "--record"]) == 0
    out = capsys.readouterr().out
    (video,) = (run_dir / "metrics" / "videos").glob("*.mp4")
    assert f"video of episode 1: {video}" in out
    length = int(float(out.split("mean length ")[1].split()[0]))  # of its one episode
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name in ("h264", "mpeg4")
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(frames) == recorded_frames(length) > 1
    assert frames[-1].shape[:2] == (200, 300) and frames[-1].max() > 0  # CartPole, drawn


def test_format_gif_writes_a_looping_gif_and_reports_that_file(run_dir, capsys):
    from PIL import Image

    assert main(["eval", str(run_dir), "--episodes", "1", "--record", "--format", "gif"]) == 0
    out = capsys.readouterr().out
    video = Path(out.split("video of episode 1: ")[1].strip())
    assert video.suffix == ".gif" and video.parent == run_dir / "metrics" / "videos"
    length = int(float(out.split("mean length ")[1].split()[0]))
    with Image.open(video) as gif:
        assert gif.n_frames == recorded_frames(length) and gif.info["loop"] == 0


def test_the_logger_reports_each_file_it_wrote_under_its_own_name(tmp_path):
    from torchrl.record import VideoRecorder

    from tui_rl.engine.envs.frames import PIXELS_KEY
    from tui_rl.engine.inspect.video import VideoFileLogger

    logger = VideoFileLogger("metrics", str(tmp_path), video_format="mp4", video_fps=10)
    recorder = VideoRecorder(logger, tag="eval-7", in_keys=[PIXELS_KEY], make_grid=False)
    recorder.obs = [torch.full((3, 5, 7), 200, dtype=torch.uint8)] * 3  # odd sides: cropped to even
    recorder.dump(step=3)
    assert logger.written == [tmp_path / "metrics" / "videos" / "eval-7_3.mp4"]
    assert logger.written[0].stat().st_size > 0
    assert [path.name for path in logger.written[0].parent.iterdir()] == ["eval-7_3.mp4"]  # no temp left


def test_format_without_record_is_a_usage_error(run_dir, capsys):
    assert main(["eval", str(run_dir), "--format", "gif"]) == 2
    assert "--format goes with --record" in capsys.readouterr().err


def test_mp4_without_pyav_is_refused_before_playing_naming_the_extra(run_dir, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else find_spec(name, *a))
    assert main(["eval", str(run_dir), "--episodes", "1", "--record"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'tui-rl[video]'" in err and "--format gif" in err and "Traceback" not in err


def decoded_frames(video: Path) -> list:
    import av

    with av.open(str(video)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(container.streams.video[0])]


def test_a_minatar_recording_films_every_step_in_the_inspectors_colours(tmp_path):
    needs("minatar", "minatar")
    from tui_rl.config import apply_overrides
    from tui_rl.config.presets import load_preset
    from tui_rl.engine.envs.making import make_env
    from tui_rl.engine.inspect.evaluate import evaluate_run
    from tui_rl.engine.envs.observation_image import image_layers
    from tui_rl.engine.runs.record import create_run

    config = apply_overrides(load_preset("minatar-breakout-dqn"), [
        "collector.total_frames=64", "collector.init_random_frames=32", "replay_buffer.size=1000",
        "eval.every_frames=1000", "eval.episodes=1",
    ])
    run_dir = create_run(config, runs_dir=tmp_path, name="minatar")
    train_run(config, run_dir)
    report = evaluate_run(run_dir, episodes=1, record=True)

    frames = decoded_frames(report.video)
    assert len(frames) == report.lengths[0] + 1, "the reset and every step after it"
    height, width, _ = frames[0].shape
    assert min(height, width) >= 100 and all(frame.max() > 0 for frame in frames)

    env = make_env(config, num_envs=1)
    try:
        drawn = image_layers(env.reset()["observation"].numpy())[0].frame  # the inspector's first layer
    finally:
        env.close()
    block = height // drawn.shape[0]
    centres = frames[0][block // 2 :: block, block // 2 :: block].astype(int)
    assert abs(centres - drawn.astype(int)).max() < 30, "colours differ from the inspector's (beyond H.264's loss)"


def test_an_atari_frame_stack_is_filmed_as_its_newest_frame_scaled_up():
    from tui_rl.engine.envs.frames import ObservationFrame

    stack = torch.randint(0, 256, (4, 84, 84), dtype=torch.uint8)
    frame = ObservationFrame(min_side=200)._apply_transform(stack)
    assert frame.shape == (252, 252, 3)
    assert (frame[::3, ::3] == stack[-1, :, :, None]).all()
