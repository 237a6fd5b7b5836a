"""Video files of episodes. TorchRL's :class:`~torchrl.record.VideoRecorder` collects the frames and
hands them to :class:`VideoFileLogger`, which writes MP4 through PyAV (its wheels bundle FFmpeg,
so the ``video`` extra is all it needs) or a GIF through Pillow, and keeps the path of
each file it wrote. TorchRL's own CSVLogger writes MP4 only through torchcodec, which needs FFmpeg
from the system, so it is not used for videos.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch import Tensor
from torchrl.record.loggers import CSVLogger

from tui_rl.config import ConfigError
from tui_rl.engine.file_formats import VIDEO_FORMATS

#: the package MP4 needs, and the extra that installs it
MP4_PACKAGE, VIDEO_EXTRA = "av", "video"


def check_video_format(video_format: str, field: str = "--format") -> None:
    """Refuse a format that is not known, or MP4 without PyAV, before anything is played."""
    from tui_rl.engine.extras import require

    if video_format not in VIDEO_FORMATS:
        raise ConfigError.at(field, f"{video_format!r} is not a video format; use {' or '.join(VIDEO_FORMATS)}")
    if video_format == "mp4":
        require(MP4_PACKAGE, field, extra=VIDEO_EXTRA, instead="or --format gif")


class VideoFileLogger(CSVLogger):
    """A CSVLogger whose videos are MP4 (PyAV, H.264) or GIF (Pillow) files under
    ``<log_dir>/<exp_name>/videos/<tag>_<step>.<format>``; ``written`` lists them in order."""

    def __init__(self, exp_name: str, log_dir: str, video_format: str = "mp4", video_fps: int = 30) -> None:
        check_video_format(video_format)
        super().__init__(exp_name=exp_name, log_dir=log_dir, video_fps=video_fps)
        self.media_format = video_format
        self.written: list[Path] = []

    def log_video(self, name: str, video: Tensor, step: int | None = None, **kwargs) -> None:
        """``video`` is what VideoRecorder dumps: ``(1, T, C, H, W)`` uint8 frames."""
        frames = video.reshape(-1, *video.shape[-3:]).permute(0, 2, 3, 1).expand(-1, -1, -1, 3)
        frames = np.ascontiguousarray(frames.numpy().astype(np.uint8))
        folder = Path(self.experiment.log_dir) / "videos"
        path = folder / f"{name}_{0 if step is None else step}.{self.media_format}"
        write = write_mp4 if self.media_format == "mp4" else write_gif
        self.written.append(write(path, frames, kwargs.get("fps", self.video_fps)))


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> Path:
    """Write ``frames`` (T x H x W x 3, uint8) as an H.264 MP4 (yuv420p, which every player
    plays; it needs even sides, so an odd last row or column is dropped), atomically."""
    import av

    frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
    temp = atomic_temp(path)
    with av.open(str(temp), mode="w", format="mp4") as container:
        stream = container.add_stream("h264" if "h264" in av.codecs_available else "mpeg4", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))  # flush the encoder's delayed frames
    os.replace(temp, path)
    return path


def write_gif(path: Path, frames: np.ndarray, fps: int) -> Path:
    """Write ``frames`` (T x H x W x 3, uint8) as a looping GIF, atomically."""
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    temp = atomic_temp(path)
    images[0].save(temp, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0)
    os.replace(temp, path)
    return path


def atomic_temp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.tmp{path.suffix}")  # the suffix tells PyAV the container
