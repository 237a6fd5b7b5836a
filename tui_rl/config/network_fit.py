"""Whether a network config fits an observation shape, and the shapes each layer sees.

Pure arithmetic on shapes (no torch), so the engine's builders, ``presets validate`` (through
engine/run/preflight.py) and the app's Policy tab, as the user types, give the same answer in the same
words. Images are read channel-first, ``[C, H, W]``; a frame stack ``[N, C, H, W]`` is read as
``N * C`` channels. The network converts uint8 pixels to floats in [0, 1] itself (and booleans to
0 / 1), so a replay buffer keeps them as uint8.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tui_rl.config.errors import ConfigError
from tui_rl.config.models import NetworkConfig

#: the key of one observation: a Box the env gives, or a Dict's entries joined
OBSERVATION_KEY = "observation"
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


def chosen_inputs(network: NetworkConfig, inputs: Mapping[str, Sequence[int]]) -> dict[str, Sequence[int]]:
    """The inputs the networks read: those ``network.observation_keys`` names, else all."""
    return {key: inputs[key] for key in network.observation_keys if key in inputs} or dict(inputs)


def reads_one_vector(inputs: Mapping[str, Sequence[int]]) -> bool:
    """Whether the networks read one observation: the env's own, or a Dict of vectors joined into one."""
    return list(inputs) == [OBSERVATION_KEY] or all(len(shape) < 3 for shape in inputs.values())


def input_width(network: NetworkConfig, shape: Sequence[int]) -> int:
    """Features one entry of a Dict read key by key gives: a ConvNet's for an image, else its values."""
    return math.prod(conv_shapes(network, shape)[-1]) if len(shape) >= 3 else math.prod(shape)


def inputs_misfit(network: NetworkConfig, inputs: Mapping[str, Sequence[int]], env_id: str) -> ConfigError | None:
    """Why ``network`` cannot read ``env_id``'s observation, given by key (``{"observation": shape}``
    for one, a Dict's entries by dotted key): a chosen key the env does not give, or a shape that
    does not fit; None when it can. A Dict holding an image is read key by key: each image by the
    ConvNet layers, each other entry as it is."""
    if (unknown := unknown_keys(network, inputs, env_id)) is not None:
        return unknown
    chosen = chosen_inputs(network, inputs)
    if reads_one_vector(chosen):
        return network_misfit(network, joined_shape(chosen), env_id)
    for key, shape in chosen.items():
        if len(shape) >= 3 and (misfit := image_misfit(network, shape, f"{env_id}'s {key}")) is not None:
            return misfit
    return None


def unknown_keys(network: NetworkConfig, inputs: Mapping[str, Sequence[int]], env_id: str) -> ConfigError | None:
    """The keys ``network.observation_keys`` names that ``env_id`` does not give; None when it gives them all."""
    unknown = [key for key in network.observation_keys if key not in inputs]
    if not unknown:
        return None
    return ConfigError.at("network.observation_keys",
                          f"{env_id} gives no {', '.join(map(repr, unknown))}; it gives {', '.join(inputs)}")


def joined_shape(inputs: Mapping[str, Sequence[int]]) -> tuple[int, ...]:
    """The one observation's shape: the env's own, or the width of the joined entries."""
    return tuple(inputs[OBSERVATION_KEY]) if list(inputs) == [OBSERVATION_KEY] else (
        sum(math.prod(shape) for shape in inputs.values()),)


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
    return image_misfit(network, observation, env_id)


def image_misfit(network: NetworkConfig, observation: Sequence[int], what: str) -> ConfigError | None:
    """Why the ConvNet layers cannot read the image ``what`` gives; None when they can."""
    shape = "x".join(map(str, observation))
    if observation[-1] <= MAX_CHANNELS_LAST < min(observation[-3], observation[-2]):
        return ConfigError.at(
            "network.encoder",
            f"convnet reads images channel-first [C, H, W]; {what} gives [{shape}], channels last: "
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


def describe_inputs(network: NetworkConfig, inputs: Mapping[str, Sequence[int]]) -> str:
    """The shapes the network sees, as :func:`describe_network`; a Dict holding an image read key
    by key: ``camera 3x16x16 -> conv 16x7x7 -> 784 | pos 2 -> 786 -> heads [64, 64]``."""
    chosen = chosen_inputs(network, inputs)
    if reads_one_vector(chosen):
        return describe_network(network, joined_shape(chosen))
    parts = []
    for key, shape in chosen.items():
        text = f"{key} " + ("x".join(map(str, shape)) or "scalar")
        if len(shape) >= 3:
            text += " -> conv " + " -> ".join("x".join(map(str, s)) for s in conv_shapes(network, shape)[1:])
            text += f" -> {input_width(network, shape)}"
        parts.append(text)
    width = sum(input_width(network, shape) for shape in chosen.values())
    memory = f" -> {network.recurrent} {network.recurrent_size}" if network.has_memory else ""
    return f"{' | '.join(parts)} -> {width}{memory} -> heads {list(network.hidden_sizes)}"


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
