"""Image observations as frames a terminal can draw: numpy only, so the app uses it before torch.

An image env's observation is what its policy sees (Atari's 4 stacked grey 84 x 84 frames,
MinAtar's 10 x 10 object channels); the inspector draws it layer by layer: a frame stack frame by
frame, object channels one by one or all at once in colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: colours of object channels drawn together (MinAtar's: paddle, ball, trail, brick...)
PALETTE = np.array(
    [[230, 80, 60], [250, 210, 60], [90, 160, 250], [120, 220, 120], [220, 120, 230],
     [250, 150, 60], [100, 230, 220], [200, 200, 200], [160, 110, 70], [250, 120, 170]],
    dtype=np.float32,
)
#: fewer than this many pixels a side is a vector or a table, not an image
MIN_SIDE = 4


@dataclass(frozen=True)
class Layer:
    label: str
    #: H x W x 3 uint8
    frame: np.ndarray


def is_image_shape(shape: tuple[int, ...]) -> bool:
    """H x W, C x H x W or H x W x C with both sides at least :data:`MIN_SIDE`."""
    return len(shape) in (2, 3) and sorted(shape)[-2] >= MIN_SIDE


def image_layers(observation: Any) -> list[Layer]:
    """The layers of one image observation, the default one first; [] when it is no image.

    Channels come last when the last dim has 1, 3 or 4 entries and the first has more (a
    Gymnasium frame), else first (after ToTensorImage). Three channels are RGB; more (or fewer)
    are shown one at a time as grey frames, the last first (CatFrames puts the newest there);
    channels of 0s and 1s (object maps) are also shown all at once in colours, first.
    """
    pixels = np.asarray(observation)
    if not is_image_shape(pixels.shape):
        return []
    if pixels.ndim == 2:
        pixels = pixels[None]
    elif pixels.shape[-1] in (1, 3, 4) and pixels.shape[0] > 4:
        pixels = np.moveaxis(pixels, -1, 0)
    grey = to_uint8(pixels)
    count = len(grey)
    if count == 3:
        return [Layer("RGB", np.ascontiguousarray(np.moveaxis(grey, 0, -1)))]
    channels = [
        Layer(f"channel {index + 1} of {count}", np.repeat(grey[index][..., None], 3, axis=-1))
        for index in reversed(range(count))
    ]
    if count > 1 and np.isin(pixels, (0, 1)).all():
        return [Layer(f"all {count} channels", coloured(pixels))] + channels
    return channels


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """uint8 as it is; bools and floats in [0, 1] scaled to 0-255; anything else clipped."""
    if pixels.dtype == np.uint8:
        return pixels
    values = pixels.astype(np.float32)
    if pixels.dtype == np.bool_ or (values.size and values.min() >= 0 and values.max() <= 1):
        values = values * 255
    return np.clip(values, 0, 255).round().astype(np.uint8)


def coloured(channels: np.ndarray) -> np.ndarray:
    """Object channels (C x H x W of 0s and 1s) drawn at once, each in its palette colour."""
    colours = PALETTE[np.arange(len(channels)) % len(PALETTE)]
    image = np.einsum("chw,ck->hwk", channels.astype(np.float32), colours)
    return np.clip(image, 0, 255).astype(np.uint8)
