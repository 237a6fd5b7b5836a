"""Evaluate a run's newest checkpoint, and record an episode of it to a video file in the run folder.

Frames are collected by TorchRL's :class:`VideoRecorder`. It writes MP4 through its CSVLogger when
torchcodec (and the FFmpeg it needs) can encode here; otherwise Pillow writes the same frames as a
looping GIF. Episodes are played by :func:`~tui_rl.engine.playback.play_episode`; a recorded one
is cut at ``MAX_RECORDED_STEPS``.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from torchrl.record import VideoRecorder
from torchrl.record.loggers import CSVLogger

from tui_rl.config import ConfigError
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs import make_env
from tui_rl.engine.compat import gym_env_of
from tui_rl.engine.frames import PIXELS_KEY, make_render_env
from tui_rl.engine.playback import MAX_RECORDED_STEPS, episode_return, play_episode, was_cut
from tui_rl.engine.runfolder import METRICS_DIR, read_config
from tui_rl.engine.weights import load_checkpoint

#: every how many env steps a frame goes into the video
VIDEO_SKIP = 2
#: videos are at most this wide (CartPole: 300x200)
VIDEO_MAX_WIDTH = 320
VIDEOS_DIR = Path(METRICS_DIR) / "videos"  # beside TorchRL's CSVLogger output of the run


class EvalError(ConfigError):
    """A run that cannot be evaluated; the message says why and what to do."""


@dataclass
class EvalReport:
    """The returns and lengths of each episode, the checkpoint they came from, and the video."""

    run_dir: Path
    checkpoint_frames: int
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    video: Path | None = None
    #: whether the recorded episode was longer than the video (cut at ``MAX_RECORDED_STEPS``)
    video_cut: bool = False

    @property
    def mean_return(self) -> float:
        return statistics.fmean(self.returns)

    @property
    def std_return(self) -> float:
        return statistics.pstdev(self.returns)

    def summary(self) -> str:
        lines = [
            f"{self.run_dir.name}: checkpoint at {self.checkpoint_frames:,} frames, "
            f"{len(self.returns)} episode(s)",
            f"return {self.mean_return:.2f} ± {self.std_return:.2f} "
            f"(min {min(self.returns):.2f}, max {max(self.returns):.2f}), "
            f"mean length {statistics.fmean(self.lengths):.1f}",
        ]
        if self.video is not None:
            cut = f" (its first {MAX_RECORDED_STEPS:,} steps)" if self.video_cut else ""
            lines.append(f"video of episode 1{cut}: {self.video}")
        return "\n".join(lines)


def evaluate_run(run_dir: Path, episodes: int = 10, record: bool = False) -> EvalReport:
    """Run ``episodes`` episodes of the newest checkpoint's policy (deterministic when the config's
    ``eval.deterministic`` says so); with ``record``, also write a video of episode 1."""
    run_dir = Path(run_dir)
    if episodes < 1:
        raise EvalError(f"--episodes: must be at least 1, not {episodes}")
    config = read_config(run_dir)
    env = make_env(config, num_envs=1)
    try:
        algorithm = build_algorithm(config, env, "cpu")
        frames = load_checkpoint(algorithm, run_dir)
        if frames is None:
            raise EvalError(
                f"{run_dir.name}: no checkpoint to evaluate yet; one is written every "
                f"checkpoint.every_frames ({config.checkpoint.every_frames:,}) frames and when the run ends"
            )
        report = EvalReport(run_dir, checkpoint_frames=frames)
        for _ in range(episodes):
            rollout = play_episode(env, algorithm.eval_policy, deterministic=config.eval.deterministic)
            report.returns.append(episode_return(rollout))
            report.lengths.append(rollout.batch_size[0])
    finally:
        env.close()
    if record:
        report.video, report.video_cut = record_episode(config, algorithm.eval_policy, run_dir, report.checkpoint_frames)
    return report


def record_episode(config, policy, run_dir: Path, frames: int) -> tuple[Path, bool]:
    """Replay episode 1 (same seed, same policy) with rendering on, at most ``MAX_RECORDED_STEPS``
    steps; returns the path of the video written and whether the episode was cut."""
    env = make_render_env(config, max_width=VIDEO_MAX_WIDTH)
    if PIXELS_KEY not in env.observation_spec.keys():
        env.close()
        raise EvalError(f"--record: {config.env.id} cannot render frames (no rgb_array render mode)")
    fps = max(1, round(gym_env_of(env).metadata.get("render_fps", 30) / VIDEO_SKIP))
    folder = run_dir / VIDEOS_DIR
    tag = f"eval-{frames}"
    logger = CSVLogger(exp_name=METRICS_DIR, log_dir=str(run_dir), video_format="mp4", video_fps=fps)
    recorder = VideoRecorder(logger, tag=tag, in_keys=[PIXELS_KEY], skip=VIDEO_SKIP, make_grid=False)
    env.append_transform(recorder)
    try:
        rollout = play_episode(env, policy, deterministic=config.eval.deterministic, max_steps=MAX_RECORDED_STEPS)
        cut = was_cut(rollout, MAX_RECORDED_STEPS)
        # the recorder keeps frames channel-first; dump() empties its buffer
        recorded = [frame.permute(1, 2, 0).numpy() for frame in recorder.obs]
        try:
            written = files_written(folder, lambda: recorder.dump(step=0))
        except (ImportError, RuntimeError, OSError):  # no torchcodec, or no FFmpeg for it here
            written = []
        if not written:
            return write_gif(folder / f"{tag}.gif", recorded, fps), cut
        return written[0], cut
    finally:
        env.close()


def files_written(folder: Path, write: Callable[[], object]) -> list[Path]:
    """The files in ``folder`` that ``write()`` created or rewrote: where a writer that does not
    say where it wrote (TorchRL's CSVLogger names videos itself) put its output."""
    def stamps() -> dict[Path, int]:
        return {path: path.stat().st_mtime_ns for path in folder.glob("*")} if folder.is_dir() else {}

    before = stamps()
    write()
    return sorted(path for path, stamp in stamps().items() if before.get(path) != stamp)


def write_gif(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """Write RGB ``frames`` (H x W x 3, uint8) as a looping GIF, atomically."""
    images = [Image.fromarray(frame) for frame in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    images[0].save(
        temp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
    )
    os.replace(temp, path)
    return path
