"""Whether a network config fits an observation shape, and the shapes each layer sees.

Pure arithmetic on shapes (no torch), so the engine's builders, ``presets validate`` (through
engine/run/preflight.py) and the app's Policy tab, as the user types, give the same answer in the same
words. Images are read channel-first, ``[C, H, W]``; a frame stack ``[N, C, H, W]`` is read as
``N * C`` channels. The network converts uint8 pixels to floats in [0, 1] itself (and booleans to
0 / 1), so a replay buffer keeps them as uint8.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tui_rl.config.errors import ConfigError
from tui_rl.config.models import NetworkConfig

#: a last dimension this small beside larger ones is a channel axis: the image is channels-last
MAX_CHANNELS_LAST = 4


def image_shape(observation: Sequence[int]) -> tuple[int, int, int]:
    """``[..., C, H, W]`` as the ``(channels, height, width)`` the ConvNet reads."""
    *channels, height, width = observation
    return math.prod(channels), height, width


def conv_shapes(network: NetworkConfig, observation: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(channels, height, width)`` of the input and after each conv layer (no padding); a side
    that would shrink below 1 is given as 0."""
    channels, height, width = image_shape(observation)
    shapes = [(channels, height, width)]
    for out, kernel, stride in zip(network.conv_channels, network.conv_kernels, network.conv_strides):
        height = max(0, (height - kernel) // stride + 1) if height >= kernel else 0
        width = max(0, (width - kernel) // stride + 1) if width >= kernel else 0
        shapes.append((out, height, width))
    return shapes


def encoder_width(network: NetworkConfig, observation: Sequence[int]) -> int:
    """Width of the feature vector the encoder hands on (the observation itself for an MLP)."""
    if network.encoder == "convnet":
        return math.prod(conv_shapes(network, observation)[-1])
    return math.prod(observation)


def network_misfit(network: NetworkConfig, observation: Sequence[int], env_id: str) -> ConfigError | None:
    """Why ``network`` cannot read ``env_id``'s observation of shape ``observation``, naming the
    field and what would fit; None when it can."""
    shape = "x".join(map(str, observation)) or "scalar"
    if network.encoder == "mlp":
        if len(observation) == 1:
            return None
        if len(observation) >= 3:
            return ConfigError.at(
                "network.encoder",
                f"mlp reads a flat vector; {env_id} gives an image [{shape}]: use convnet",
            )
        return ConfigError.at(
            "network.encoder", f"mlp reads a flat vector; {env_id} gives [{shape}]: flatten it with a transform"
        )
    if len(observation) < 3:
        return ConfigError.at(
            "network.encoder",
            f"convnet reads images [C, H, W]; {env_id} gives a vector [{shape}]: use mlp",
        )
    if observation[-1] <= MAX_CHANNELS_LAST < min(observation[-3], observation[-2]):
        return ConfigError.at(
            "network.encoder",
            f"convnet reads images channel-first [C, H, W]; {env_id} gives [{shape}], channels last: "
            "add a ToTensorImage (or PermuteTransform) transform",
        )
    shapes = conv_shapes(network, observation)
    for layer, (before, after) in enumerate(zip(shapes, shapes[1:])):
        if after[1] < 1 or after[2] < 1:
            kernel, stride = network.conv_kernels[layer], network.conv_strides[layer]
            return ConfigError.at(
                "network.conv_kernels",
                f"conv layer {layer + 1} (kernel {kernel}, stride {stride}) gets a {before[1]}x{before[2]} "
                f"input from the [{shape}] observation: too small; use smaller kernels or strides, or "
                f"fewer layers (kernels up to {min(before[1], before[2])} fit there)",
            )
    return None


def describe_network(network: NetworkConfig, observation: Sequence[int]) -> str:
    """The shapes the network sees, from the observation to the heads: ``4x84x84 -> conv
    32x20x20 -> 64x9x9 -> 64x7x7 -> 3136 -> lstm 128 -> heads [512]`` (an MLP encoder is the
    heads' own hidden layers: ``4 -> heads [64, 64]``)."""
    parts = ["x".join(map(str, observation)) or "scalar"]
    if network.encoder == "convnet":
        shapes = conv_shapes(network, observation)
        parts.append("conv " + " -> ".join("x".join(map(str, s)) for s in shapes[1:]))
        parts.append(str(encoder_width(network, observation)))
    if network.has_memory:
        parts.append(f"{network.recurrent} {network.recurrent_size}")
    parts.append(f"heads {list(network.hidden_sizes)}")
    return " -> ".join(parts)
