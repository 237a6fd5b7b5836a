"""Evaluate a run's newest checkpoint, and record an episode of it to a video file in the run folder.

Frames (rendered, or an image observation drawn as the inspector draws it) are collected by
TorchRL's :class:`VideoRecorder` and written as MP4 (or GIF when asked) by
:class:`~tui_rl.engine.inspect.video.VideoFileLogger`. Episodes are played by :func:`~tui_rl.engine.policy.playback.play_episode`; a recorded one
is cut at ``MAX_RECORDED_STEPS``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from torchrl.record import VideoRecorder

from tui_rl.config import ConfigError
from tui_rl.engine.compat import gym_env_of
from tui_rl.engine.envs.frames import (
    PIXELS_KEY,
    ObservationFrame,
    has_image_observation,
    make_render_env,
)
from tui_rl.engine.inspect.video import VideoFileLogger, check_video_format
from tui_rl.engine.policy.playback import (
    MAX_RECORDED_STEPS,
    episode_return,
    play_episode,
    was_cut,
)
from tui_rl.engine.policy.weights import NoCheckpointYet, load_run_policy
from tui_rl.engine.runs.folder import METRICS_DIR, refuse_links

#: every how many env steps a rendered frame goes into the video (an image observation's: every step)
VIDEO_SKIP = 2
#: videos are at most this wide (CartPole: 300x200)
VIDEO_MAX_WIDTH = 320
#: an image observation (MinAtar's 10x10, Atari's 84x84) is scaled up to at least this a side
VIDEO_MIN_SIDE = 200


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


def evaluate_run(run_dir: Path, episodes: int = 10, record: bool = False, video_format: str = "mp4") -> EvalReport:
    """Run ``episodes`` episodes of the newest checkpoint's policy (deterministic when the config's
    ``eval.deterministic`` says so); with ``record``, also write a video of episode 1 as
    ``video_format`` (mp4 or gif)."""
    run_dir = Path(run_dir)
    if episodes < 1:
        raise EvalError(f"--episodes: must be at least 1, not {episodes}")
    if record:
        check_video_format(video_format)
    try:
        run = load_run_policy(run_dir, purpose="evaluate")
    except NoCheckpointYet as exc:
        raise EvalError(str(exc)) from None
    config, policy = run.config, run.policy
    report = EvalReport(run_dir, checkpoint_frames=run.frames)
    try:
        for _ in range(episodes):
            rollout = play_episode(run.env, policy, deterministic=config.eval.deterministic)
            report.returns.append(episode_return(rollout))
            report.lengths.append(rollout.batch_size[0])
    finally:
        run.close()
    if record:
        report.video, report.video_cut = record_episode(config, policy, run_dir, report.checkpoint_frames, video_format)
    return report


def record_episode(config, policy, run_dir: Path, frames: int, video_format: str = "mp4") -> tuple[Path, bool]:
    """Replay episode 1 (same seed, same policy) with rendering on, at most ``MAX_RECORDED_STEPS``
    steps; returns the path of the video written and whether the episode was cut. An env whose
    observation is an image is filmed as the inspector draws that observation, every step."""
    refuse_links(run_dir)  # the video goes to metrics/videos/, never through a link out
    env = make_render_env(config, max_width=VIDEO_MAX_WIDTH, draw_observation=True)
    skip = VIDEO_SKIP
    if has_image_observation(env):
        env.append_transform(ObservationFrame(VIDEO_MIN_SIDE))
        skip = 1
    if PIXELS_KEY not in env.observation_spec.keys():
        env.close()
        raise EvalError(f"--record: {config.env.id} cannot render frames (no rgb_array render mode)")
    fps = max(1, round(gym_env_of(env).metadata.get("render_fps", 30) / skip))
    logger = VideoFileLogger(METRICS_DIR, str(run_dir), video_format=video_format, video_fps=fps)
    recorder = VideoRecorder(logger, tag=f"eval-{frames}", in_keys=[PIXELS_KEY], skip=skip, make_grid=False)
    env.append_transform(recorder)
    try:
        rollout = play_episode(env, policy, deterministic=config.eval.deterministic, max_steps=MAX_RECORDED_STEPS)
        recorder.dump(step=0)
        return logger.written[-1], was_cut(rollout, MAX_RECORDED_STEPS)
    finally:
        env.close()
