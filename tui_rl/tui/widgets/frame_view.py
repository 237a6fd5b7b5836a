"""An RGB frame drawn in the terminal: each cell is "▀" with the upper pixel as its foreground colour
and the lower pixel as its background, so a cell holds two square-ish pixels.

:func:`frame_to_text` is a pure function (frame in, rich Text out) so it can be tested alone.
:class:`FrameView` draws a rendered frame or an image observation, one layer at a time (a frame
stack frame by frame; see :mod:`tui_rl.engine.envs.observation_image`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tui_rl.engine.envs.observation_image import Layer, image_layers

UPPER_HALF = "▀"


def fit_size(width: int, height: int, columns: int, rows: int) -> tuple[int, int]:
    """The largest (pixels wide, pixels high) a ``width`` x ``height`` frame can be drawn at in
    ``columns`` x ``rows`` cells (two pixels a cell, one above the other), keeping its aspect."""
    scale = min(columns / width, 2 * rows / height)
    return max(1, min(columns, int(width * scale))), max(1, min(2 * rows, int(height * scale)))


def resample(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` resized to ``height`` x ``width``: each output pixel is the mean of the source
    pixels it covers (so thin lines survive shrinking), or the nearest one when enlarging."""
    source_h, source_w = frame.shape[:2]
    row_starts = np.arange(height) * source_h // height
    col_starts = np.arange(width) * source_w // width
    sums = np.add.reduceat(np.add.reduceat(frame.astype(np.float32), row_starts, axis=0), col_starts, axis=1)
    # reduceat takes the single element at a start that does not advance (enlarging): count 1
    row_counts = np.maximum(np.diff(np.append(row_starts, source_h)), 1)
    col_counts = np.maximum(np.diff(np.append(col_starts, source_w)), 1)
    return (sums / (row_counts[:, None, None] * col_counts[None, :, None])).round().astype(np.uint8)


def frame_to_text(frame: Any, columns: int, rows: int) -> Text:
    """Draw ``frame`` (H x W x 3 uint8: a numpy array or a CPU tensor) in at most ``columns`` x
    ``rows`` cells, as large as fits with its aspect kept."""
    pixels = np.asarray(frame)
    if pixels.ndim != 3 or pixels.shape[-1] < 3 or columns < 1 or rows < 1:
        return Text()
    width, height = fit_size(pixels.shape[1], pixels.shape[0], columns, rows)
    image = resample(pixels[..., :3], width, height)
    if height % 2:  # the last cell row's lower half shows the row itself again
        image = np.concatenate([image, image[-1:]], axis=0)
    text = Text(no_wrap=True, overflow="crop")
    colours: dict[tuple[int, int, int], Color] = {}

    def colour(rgb: np.ndarray) -> Color:
        key = (int(rgb[0]), int(rgb[1]), int(rgb[2]))
        if key not in colours:
            colours[key] = Color.from_rgb(*key)
        return colours[key]

    for row in range(0, image.shape[0], 2):
        upper, lower = image[row], image[row + 1]
        # runs of identical cells become one span: a plain background costs one style, not many
        pairs = np.concatenate([upper, lower], axis=1)
        changes = np.flatnonzero(np.any(pairs[1:] != pairs[:-1], axis=1)) + 1
        starts = np.concatenate([[0], changes])
        ends = np.concatenate([changes, [width]])
        for start, end in zip(starts, ends):
            style = Style(color=colour(upper[start]), bgcolor=colour(lower[start]))
            text.append(UPPER_HALF * int(end - start), style)
        if row + 2 < image.shape[0]:
            text.append("\n")
    return text


class FrameView(Widget):
    """Shows one frame, redrawn to fit whenever the frame or the widget's size changes; a short
    note instead when there is no frame to show. An observation of several layers shows one, named
    on the last line; :meth:`next_layer` moves to the next, and stepping keeps the layer chosen."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.frame: Any = None
        self.frame_layers: list[Layer] = []
        self.shown_layer = 0
        self.note = "no frame"
        self._drawn: tuple[int, int, int] | None = None
        self._text = Text()

    def show(self, frame: Any, note: str = "") -> None:
        """Draw ``frame`` (a rendered H x W x 3 frame or an image observation), or ``note`` when
        ``frame`` is None or no image."""
        self.frame = frame
        layers = image_layers(frame) if frame is not None else []
        if len(layers) != len(self.frame_layers):
            self.shown_layer = 0
        self.frame_layers = layers
        self.note = note or "no frame"
        self._drawn = None
        self.refresh()

    def next_layer(self, step: int = 1) -> None:
        if len(self.frame_layers) > 1:
            self.shown_layer = (self.shown_layer + step) % len(self.frame_layers)
            self._drawn = None
            self.refresh()

    @property
    def layer_label(self) -> str:
        return self.frame_layers[self.shown_layer].label if self.frame_layers else ""

    def render(self) -> Text:
        if not self.frame_layers:
            return Text(self.note, style="dim", justify="center")
        columns, rows = self.content_size.width, self.content_size.height
        many = len(self.frame_layers) > 1
        drawn = (columns, rows, self.shown_layer)
        if drawn != self._drawn:
            self._text = frame_to_text(self.frame_layers[self.shown_layer].frame, columns, rows - many)
            if many:
                self._text.append(f"\n{self.layer_label} · f next", style="dim")
            self._drawn = drawn
        return self._text
