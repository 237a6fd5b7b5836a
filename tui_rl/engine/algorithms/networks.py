"""Building blocks every algorithm shares: MLPs, policy heads, optimisers, a gradient step, loss logging."""

from __future__ import annotations

from collections import defaultdict

import torch
from tensordict import TensorDictBase
from tensordict.nn import NormalParamExtractor, TensorDictModule
from torch import nn
from torchrl.envs import EnvBase
from torchrl.modules import MLP, ProbabilisticActor, TanhNormal, ValueOperator

from tui_rl.config.models import NetworkConfig, OptimConfig, RunConfig
from tui_rl.config.errors import ConfigError

OBSERVATION_KEY = "observation"

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def observation_size(env: EnvBase) -> int:
    """Width of the flat ``observation`` vector the networks read."""
    spec = env.observation_spec_unbatched.get(OBSERVATION_KEY, None)
    if spec is None:
        keys = ", ".join(str(k) for k in env.observation_spec.keys())
        raise ConfigError.at("env.id", f"the networks read 'observation', but the env gives {keys}")
    shape = spec.shape
    if len(shape) != 1:
        raise ConfigError.at(
            "env.id", f"the networks are MLPs and need a flat observation; this one has shape {tuple(shape)}"
        )
    return shape[0]


def action_size(env: EnvBase) -> int:
    """Number of discrete actions, or width of a continuous action."""
    spec = env.action_spec_unbatched
    if spec.domain == "discrete":
        return spec.space.n
    return spec.shape[-1]


def make_mlp(network: NetworkConfig, in_features: int, out_features: int, device) -> MLP:
    """An MLP with the config's hidden sizes and activation; several inputs are concatenated."""
    return MLP(
        in_features=in_features,
        out_features=out_features,
        num_cells=list(network.hidden_sizes),
        activation_class=ACTIVATIONS[network.activation],
        device=device,
    )


def make_action_mlp(config: RunConfig, env: EnvBase, device) -> MLP:
    """An MLP from the observation to one output per discrete action, or per action dimension."""
    return make_mlp(config.network, observation_size(env), action_size(env), device)


def make_critic(config: RunConfig, env: EnvBase, device, with_action: bool = False) -> ValueOperator:
    """V(s), or Q(s, a) with ``with_action`` (the MLP concatenates observation and action)."""
    in_features = observation_size(env) + (action_size(env) if with_action else 0)
    in_keys = [OBSERVATION_KEY, "action"] if with_action else [OBSERVATION_KEY]
    return ValueOperator(make_mlp(config.network, in_features, 1, device), in_keys=in_keys)


def make_stochastic_actor(config: RunConfig, env: EnvBase, device) -> ProbabilisticActor:
    """A policy that samples actions: Categorical over discrete ones, TanhNormal within the bounds otherwise."""
    spec = env.action_spec_unbatched
    if spec.domain == "discrete":
        net = make_action_mlp(config, env, device)
        module = TensorDictModule(net, in_keys=[OBSERVATION_KEY], out_keys=["logits"])
        distribution, kwargs = torch.distributions.Categorical, {}
    else:
        net = nn.Sequential(
            make_mlp(config.network, observation_size(env), 2 * action_size(env), device),
            NormalParamExtractor(),
        )
        module = TensorDictModule(net, in_keys=[OBSERVATION_KEY], out_keys=["loc", "scale"])
        distribution = TanhNormal
        kwargs = {"low": spec.space.low.to(device), "high": spec.space.high.to(device)}
    return ProbabilisticActor(
        module,
        in_keys=list(module.out_keys),
        spec=spec,
        distribution_class=distribution,
        distribution_kwargs=kwargs,
        return_log_prob=True,
    )


def make_optimizer(optim: OptimConfig, params) -> torch.optim.Optimizer:
    kwargs = {"lr": optim.lr, "weight_decay": optim.weight_decay}
    return OPTIMIZERS[optim.optimizer](list(params), **kwargs)


def gradient_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, max_grad_norm: float) -> None:
    """One optimiser step on ``loss``, gradients clipped to ``max_grad_norm`` (0: not clipped)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()


def annealed_lr(optim: OptimConfig, frames: int, total_frames: int) -> float:
    """The learning rate at ``frames``: constant, or decayed linearly to zero with ``anneal_lr``."""
    if not optim.anneal_lr:
        return optim.lr
    return optim.lr * max(0.0, 1.0 - frames / total_frames)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class LossMeans:
    """Averages each ``loss_*`` term (and any other scalar) over the gradient steps of one batch.

    Sums stay tensors until :meth:`means`, so no step waits on a ``.item()`` sync.
    """

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = defaultdict(lambda: 0)
        self.count = 0

    def add(self, values: TensorDictBase, keys: list[str]) -> None:
        for key in keys:
            self.sums[key] = self.sums[key] + values.get(key).detach().mean()
        self.count += 1

    def means(self) -> dict[str, float]:
        return {key: float(total) / self.count for key, total in self.sums.items()}


def total_loss(loss_td: TensorDictBase) -> tuple[torch.Tensor, list[str]]:
    """The sum of every ``loss_*`` term of a TorchRL loss output, and their keys."""
    keys = [key for key in loss_td.keys() if key.startswith("loss_")]
    return sum(loss_td.get(key) for key in keys), keys
