"""Encoders: what reads the observation. An MLP reads a flat vector; a ConvNet reads an image; a
Dict holding an image is read key by key."""

from __future__ import annotations

import torch
from tensordict import NestedKey
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.envs import EnvBase
from torchrl.modules import MLP, ConvNet

from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY
from tui_rl.config.errors import ConfigError
from tui_rl.config.models import NetworkConfig
from tui_rl.config.network_fit import (
    OBSERVATION_KEY,
    chosen_inputs,
    encoder_width,
    image_shape,
    input_width,
    inputs_misfit,
)

#: what a ConvNet encoder writes: the flat features the memory core or the heads read
EMBEDDING_KEY = "embedding"

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def observation_inputs(env: EnvBase) -> dict[str, tuple[int, ...]]:
    """What the networks may read, by key, one observation's shapes (no batch dims): the
    ``observation`` (the env's Box, a Discrete or Tuple made one, or what the stack made of its
    pixels), else the entries of its Dict by dotted key, as the transforms leave them. ``action_mask`` is no input: it masks the actions."""
    spec = env.observation_spec_unbatched
    given = env.base_env.observation_spec
    if OBSERVATION_KEY in spec.keys():  # the env's own, or one the stack made (Atari's pixels renamed)
        return {OBSERVATION_KEY: tuple(spec[OBSERVATION_KEY].shape)}
    if OBSERVATION_KEY in given.keys() or "pixels" in given.keys():
        keys = ", ".join(str(k) for k in env.observation_spec.keys())
        raise ConfigError.at("env.id", f"the networks read 'observation', but the env gives {keys}")
    leaves = [(dotted(key), tuple(leaf.shape)) for key, leaf in spec.items(True, True)
              if key in given.keys(True, True) and key != ACTION_MASK_KEY]
    return dict(sorted(leaves))


def dotted(key: NestedKey) -> str:
    return ".".join(key) if isinstance(key, tuple) else key


def nested(key: str) -> NestedKey:
    """A dotted key as TensorDict reads it."""
    return tuple(key.split(".")) if "." in key else key


def checked_inputs(network: NetworkConfig, env: EnvBase, env_id: str) -> dict[str, tuple[int, ...]]:
    """What the networks read (see :func:`observation_inputs`), once they are known to fit it
    (ConfigError naming the field)."""
    inputs = observation_inputs(env)
    misfit = inputs_misfit(network, inputs, env_id)
    if misfit is not None:
        raise misfit
    return chosen_inputs(network, inputs)


def make_mlp(network: NetworkConfig, in_features: int, out_features: int, device) -> MLP:
    """An MLP with the config's hidden sizes and activation."""
    return MLP(
        in_features=in_features,
        out_features=out_features,
        num_cells=list(network.hidden_sizes),
        activation_class=ACTIVATIONS[network.activation],
        device=device,
    )


class ImageInput(nn.Module):
    """Pixels as the ConvNet wants them: float (uint8 / 255, booleans as 0 / 1) and a frame stack
    ``[..., N, C, H, W]`` folded into ``N * C`` channels. Done here, not by a transform, so the env
    and the replay buffer keep images as uint8 (a quarter of float32's memory)."""

    def __init__(self, observation_dims: int) -> None:
        super().__init__()
        self.observation_dims = observation_dims

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if pixels.dtype == torch.uint8:
            pixels = pixels.float().div_(255)  # scaled in the one float copy
        elif not pixels.is_floating_point():
            pixels = pixels.float()
        if self.observation_dims > 3:
            pixels = pixels.flatten(-self.observation_dims, -3)
        return pixels


def make_conv_encoder(network: NetworkConfig, observation: tuple[int, ...], device) -> nn.Module:
    """Image -> flat features (``encoder_width`` of them)."""
    return nn.Sequential(
        ImageInput(len(observation)),
        ConvNet(
            in_features=image_shape(observation)[0],
            num_cells=list(network.conv_channels),
            kernel_sizes=list(network.conv_kernels),
            strides=list(network.conv_strides),
            activation_class=ACTIVATIONS[network.activation],
            device=device,
        ),
    )


class FlatInput(nn.Module):
    """An entry that is no image as float features: a scalar as one, a matrix flattened."""

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, entry: torch.Tensor) -> torch.Tensor:
        entry = entry.float()
        return entry.unsqueeze(-1) if self.dims == 0 else entry.flatten(-self.dims)


class MultiInputEncoder(nn.Module):
    """One reader per Dict entry, their features concatenated, as SB3's MultiInputPolicy does: the
    ConvNet layers for each image, the values of each other entry as they are (the heads' hidden
    layers are their MLP, as with an mlp encoder)."""

    def __init__(self, network: NetworkConfig, shapes: list[tuple[int, ...]], device) -> None:
        super().__init__()
        self.readers = nn.ModuleList(
            make_conv_encoder(network, shape, device) if len(shape) >= 3 else FlatInput(len(shape)) for shape in shapes
        )

    def forward(self, *entries: torch.Tensor) -> torch.Tensor:
        return torch.cat([read(entry) for read, entry in zip(self.readers, entries)], dim=-1)


def make_encoder(network: NetworkConfig, env: EnvBase, env_id: str, device) -> tuple[list[TensorDictModule], str, int]:
    """The encoder as TensorDict modules, the key its features are under, and their width.

    An MLP encoder is no module of its own: the heads' MLPs read the observation directly (their
    hidden layers are the encoder), which keeps MLP-only networks as they always were. A Dict the
    env did not join into one observation (it holds an image) is read key by key.
    """
    inputs = checked_inputs(network, env, env_id)
    if OBSERVATION_KEY not in env.observation_spec.keys():
        encoder = MultiInputEncoder(network, list(inputs.values()), device)
        width = sum(input_width(network, shape) for shape in inputs.values())
        return [TensorDictModule(encoder, in_keys=list(map(nested, inputs)), out_keys=[EMBEDDING_KEY])], EMBEDDING_KEY, width
    observation = tuple(env.observation_spec_unbatched[OBSERVATION_KEY].shape)
    if network.encoder == "mlp":
        return [], OBSERVATION_KEY, encoder_width(network, observation)
    module = TensorDictModule(
        make_conv_encoder(network, observation, device), in_keys=[OBSERVATION_KEY], out_keys=[EMBEDDING_KEY]
    )
    return [module], EMBEDDING_KEY, encoder_width(network, observation)
