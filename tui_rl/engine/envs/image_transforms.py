"""Image transforms with TorchRL's signatures that run on torch alone.

TorchRL's ``Resize`` and ``CenterCrop`` call torchvision, which has no wheel for a CPU-only torch
on PyPI (its wheels load CUDA libraries). These are the same transforms (same parameters, same
``w`` x ``h`` order: ``w`` is the first image dim, as in TorchRL) on ``torch.nn.functional``; they
keep uint8 images uint8. ``select_entries`` is the partially observed task's mask.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tensordict.utils import NestedKey
from torchrl.data.tensor_specs import ContinuousBox, TensorSpec
from torchrl.envs import ObservationTransform, UnaryTransform

#: interpolation modes that take ``antialias`` (so thin lines survive shrinking)
ANTIALIASED = ("bilinear", "bicubic")


class ImageShapeTransform(ObservationTransform):
    """An observation transform that changes the last two dims of images (and of their bounds)."""

    def __init__(self, w: int, h: int | None, in_keys: Sequence[NestedKey] | None, out_keys: Sequence[NestedKey] | None):
        in_keys = in_keys or ["pixels"]
        super().__init__(in_keys=in_keys, out_keys=out_keys or in_keys)
        self.w, self.h = int(w), int(w if h is None else h)

    def transform_observation_spec(self, observation_spec: TensorSpec) -> TensorSpec:
        for in_key, out_key in zip(self.in_keys, self.out_keys):
            if in_key in observation_spec.keys(True):
                observation_spec[out_key] = self._image_spec(observation_spec[in_key].clone())
        return observation_spec

    def _image_spec(self, spec: TensorSpec) -> TensorSpec:
        space = getattr(spec, "space", None)
        if isinstance(space, ContinuousBox):
            space.low = self._apply_transform(space.low)
            space.high = self._apply_transform(space.high)
        spec.shape = spec.shape[:-2] + torch.Size([self.w, self.h])
        return spec

    def _reset(self, tensordict, tensordict_reset):
        return self._call(tensordict_reset)


class Resize(ImageShapeTransform):
    """Resizes images (``... x w x h`` after ToTensorImage) with ``torch.nn.functional.interpolate``."""

    def __init__(
        self,
        w: int,
        h: int | None = None,
        interpolation: str = "bilinear",
        in_keys: Sequence[NestedKey] | None = None,
        out_keys: Sequence[NestedKey] | None = None,
    ):
        super().__init__(w, h, in_keys, out_keys)
        self.interpolation = interpolation

    def _apply_transform(self, observation: torch.Tensor) -> torch.Tensor:
        if observation.shape[-2:] == torch.Size([self.w, self.h]):
            return observation
        lead = observation.shape[:-2]
        flat = observation.reshape(-1, 1, *observation.shape[-2:])
        antialias = self.interpolation in ANTIALIASED
        resized = F.interpolate(flat, size=(self.w, self.h), mode=self.interpolation, antialias=antialias)
        return resized.reshape(*lead, self.w, self.h)


class CenterCrop(ImageShapeTransform):
    """Crops the centre ``w`` x ``h`` of images."""

    def __init__(
        self,
        w: int,
        h: int | None = None,
        in_keys: Sequence[NestedKey] | None = None,
        out_keys: Sequence[NestedKey] | None = None,
    ):
        super().__init__(w, h, in_keys, out_keys)

    def _apply_transform(self, observation: torch.Tensor) -> torch.Tensor:
        rows, cols = observation.shape[-2:]
        top, left = max(0, (rows - self.w) // 2), max(0, (cols - self.h) // 2)
        return observation[..., top : top + self.w, left : left + self.h]


def select_entries(indices: list[int], in_keys: Sequence[NestedKey]) -> UnaryTransform:
    """Keeps only ``indices`` of the last dim of ``in_keys``: CartPole without its velocities
    keeps [0, 2]. TorchRL's UnaryTransform works the new spec out from a sample."""
    index = torch.as_tensor(indices, dtype=torch.long)
    return UnaryTransform(
        in_keys=list(in_keys), out_keys=list(in_keys), fn=functools.partial(torch.index_select, dim=-1, index=index)
    )
