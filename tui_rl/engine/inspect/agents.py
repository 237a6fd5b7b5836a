"""The agents of a multi-agent env, one at a time, for the inspector's live env: which agents
there are (each group's, by index), what one agent may do, and what the policy makes of a step
for every group (its action, and its logits or action distribution's parameters).

A multi-agent env keeps each group's entries under the group's name, one row per agent
(``("adversary", "action")`` is [agents] for discrete actions, [agents, n] for continuous ones):
driving one agent by hand is writing its row of its group's action, the policy's rows for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.envs import EnvBase, set_exploration_type

from tui_rl.engine.envs.multi_agent import group_names
from tui_rl.engine.policy.playback import exploration_type

#: what the policy writes for a group that the inspector shows beside its action
GROUP_OUTPUT_KEYS = ("action", "logits", "loc", "scale")


@dataclass(frozen=True)
class Seat:
    """One agent: its group and its index in the group."""

    group: str
    index: int

    @property
    def label(self) -> str:
        return f"{self.group} {self.index}"


def agent_seats(env: EnvBase) -> list[Seat]:
    """Every agent of ``env``, group by group."""
    return [Seat(group, index) for group in group_names(env)
            for index in range(env.full_action_spec_unbatched[group, "action"].shape[0])]


def seat_action_spec(env: EnvBase, seat: Seat):
    """What one agent may do: its row of its group's action spec."""
    return env.full_action_spec_unbatched[seat.group, "action"][seat.index]


def agents_policy_outputs(policy, td: TensorDictBase, deterministic: bool = True) -> TensorDictBase:
    """What ``policy`` makes of ``td``'s observations for each group: ``(group, key)`` for the
    keys of :data:`GROUP_OUTPUT_KEYS` it writes; ``td`` is left as it was."""
    inputs = td.select(*policy.in_keys, strict=False)
    with torch.no_grad(), set_exploration_type(exploration_type(deterministic)):
        out = policy(inputs.clone())
    outputs = TensorDict(batch_size=td.batch_size, device=td.device)
    written = set(out.keys(True, True))
    for group in {key[0] for key in written if isinstance(key, tuple)}:
        for key in GROUP_OUTPUT_KEYS:
            if (group, key) in written:
                outputs.set((group, key), out.get((group, key)))
    return outputs
