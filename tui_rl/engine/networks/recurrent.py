"""The memory core: TorchRL's LSTMModule / GRUModule between the encoder and the heads.

Its state lives in the env's TensorDict, as TorchRL's recurrent DQN tutorial does it: the env gets
a TensorDictPrimer (zeros at each reset) and an InitTracker (``is_init`` marks each episode's first
step, where the module starts from zeros again), and the collector carries the module's
``("next", "recurrent_state_*")`` into the following step. Collecting runs one step at a time;
learning runs whole sequences under :func:`sequence_mode` (recurrent mode), each starting from
the state stored with its first step. An actor-critic shares one core, trained by the actor's loss
alone (:func:`critic_memory`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.envs import Transform
from torchrl.modules import GRUModule, LSTMModule, set_recurrent_mode

from tui_rl.config.models import NetworkConfig

#: what the memory core writes: the features the heads read
MEMORY_KEY = "memory"
#: the memory's features as the critic of an actor-critic reads them (cut from the core's gradient)
CRITIC_MEMORY_KEY = "memory_for_critic"
#: the recurrent state the memory core reads (and writes under "next"), per core
STATE_KEYS: dict[str, tuple[str, ...]] = {
    "lstm": ("recurrent_state_h", "recurrent_state_c"),
    "gru": ("recurrent_state",),
}


def make_memory(network: NetworkConfig, in_key: str, input_size: int, device) -> LSTMModule | GRUModule | None:
    """The configured LSTM / GRU reading ``in_key``, or None without memory."""
    if not network.has_memory:
        return None
    states = STATE_KEYS[network.recurrent]
    module_class = LSTMModule if network.recurrent == "lstm" else GRUModule
    return module_class(
        input_size=input_size,
        hidden_size=network.recurrent_size,
        in_keys=[in_key, *states],
        out_keys=[MEMORY_KEY, *(("next", key) for key in states)],
        device=device,
    )


def memory_primers(network: NetworkConfig) -> list[Transform]:
    """The env transforms that hold the memory's state between steps (none without memory).

    The primer depends only on the state's keys and size, so a module of any input size makes it.
    """
    module = make_memory(network, MEMORY_KEY, 1, "cpu")
    return [] if module is None else [module.make_tensordict_primer()]


def sequence_mode(enabled: bool) -> AbstractContextManager:
    """Run memory cores over whole sequences (the last batch dim is time) while learning, or one
    step at a time from the stored states."""
    return set_recurrent_mode(enabled)


class Detach(nn.Module):
    """Its input, cut from the graph (a module, so the critic stays a picklable TensorDict module)."""

    def forward(self, features):
        return features.detach()


def critic_memory() -> TensorDictModule:
    """The memory's features for the critic of an actor-critic, cut from the core's gradient.

    Only the actor's loss trains the core, as sb3-contrib's RecurrentPPO does with a shared LSTM
    (``shared_lstm=True``: "only the actor gradient is used"). Trained by both losses, the value
    loss (its gradient on the core hundreds of times the policy's) moved the core so much that
    the policy stayed uniform: the clipped objective cannot hold back changes it does not make.
    """
    return TensorDictModule(Detach(), in_keys=[MEMORY_KEY], out_keys=[CRITIC_MEMORY_KEY])
