"""Encoders: what reads the observation. An MLP reads a flat vector; a ConvNet reads an image."""

from __future__ import annotations

import torch
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.envs import EnvBase
from torchrl.modules import MLP, ConvNet

from tui_rl.config.errors import ConfigError
from tui_rl.config.models import NetworkConfig
from tui_rl.config.network_fit import encoder_width, image_shape, network_misfit

OBSERVATION_KEY = "observation"
#: what a ConvNet encoder writes: the flat features the memory core or the heads read
EMBEDDING_KEY = "embedding"

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def observation_shape(env: EnvBase) -> tuple[int, ...]:
    """Shape of one ``observation`` (without batch dims)."""
    spec = env.observation_spec_unbatched.get(OBSERVATION_KEY, None)
    if spec is None:
        keys = ", ".join(str(k) for k in env.observation_spec.keys())
        raise ConfigError.at("env.id", f"the networks read 'observation', but the env gives {keys}")
    return tuple(spec.shape)


def checked_observation(network: NetworkConfig, env: EnvBase, env_id: str) -> tuple[int, ...]:
    """The observation shape, once the network is known to fit it (ConfigError naming the field)."""
    shape = observation_shape(env)
    misfit = network_misfit(network, shape, env_id)
    if misfit is not None:
        raise misfit
    return shape


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
            pixels = pixels.float() / 255
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


def make_encoder(
    network: NetworkConfig, observation: tuple[int, ...], device
) -> tuple[list[TensorDictModule], str, int]:
    """The encoder as TensorDict modules, the key its features are under, and their width.

    An MLP encoder is no module of its own: the heads' MLPs read the observation directly (their
    hidden layers are the encoder), which keeps MLP-only networks as they always were.
    """
    if network.encoder == "mlp":
        return [], OBSERVATION_KEY, encoder_width(network, observation)
    module = TensorDictModule(
        make_conv_encoder(network, observation, device), in_keys=[OBSERVATION_KEY], out_keys=[EMBEDDING_KEY]
    )
    return [module], EMBEDDING_KEY, encoder_width(network, observation)
