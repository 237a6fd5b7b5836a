"""A live env for the inspector: stepped one step per call by the policy, by the user or at random.

Every step is one TensorDict as TorchRL's ``env.step`` returns it (observation, action, ``next``
with reward / done / terminated / truncated, ...) plus the rendered frame under ``pixels`` and the
policy's view of the step under ``policy`` (see :mod:`tui_rl.engine.policy.outputs`). Steps are
appended to a rollout with batch size [T], which is what the inspector shows.

In a multi-agent env the policy acts for every agent, except the one the user drives (:meth:`drive`):
the user's action is that agent's row of its group's action.

Not thread-safe: one thread at a time steps a session (the inspector runs its steps in order, one
worker after the other).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.envs.utils import step_mdp

from tui_rl.config.models import RunConfig
from tui_rl.engine.envs.frames import PIXELS_KEY, make_render_env
from tui_rl.engine.envs.making import action_kind
from tui_rl.engine.envs.multi_agent import group_action_kinds, is_multi_agent_env
from tui_rl.engine.inspect.agents import Seat, agent_seats, agents_policy_outputs, seat_action_spec
from tui_rl.engine.policy.outputs import (
    POLICY_KEY,
    carry_memory,
    policy_outputs,
    with_policy_outputs,
)
from tui_rl.engine.policy.playback import MAX_RECORDED_STEPS, play_episode
from tui_rl.engine.policy.weights import Weights, apply_weights, build_policy


class ActionError(ValueError):
    """An action the env cannot take; the message says what it accepts."""


class GrowingRollout:
    """Steps appended one at a time into a buffer that doubles when full: each step costs O(1),
    and :attr:`view` (the first ``len`` steps) is a slice, not a copy. At ``limit`` steps (frames
    are kept) the older half is dropped, so a long session cannot fill the memory."""

    def __init__(self, capacity: int = 64, limit: int = MAX_RECORDED_STEPS) -> None:
        self.capacity = capacity
        self.limit = limit
        self.buffer: TensorDictBase | None = None
        self.length = 0
        self.dropped = 0  # steps dropped from the front so far

    def __len__(self) -> int:
        return self.length

    def append(self, step: TensorDictBase) -> None:
        if self.buffer is None:
            self.buffer = step.expand(min(self.capacity, self.limit)).clone()
        elif self.length == self.limit:
            keep = self.limit // 2
            self.buffer[:keep] = self.buffer[self.length - keep : self.length].clone()
            self.dropped += self.length - keep
            self.length = keep
        elif self.length == self.buffer.batch_size[0]:
            grown = min(self.length, self.limit - self.length)
            self.buffer = torch.cat([self.buffer, self.buffer[:grown].clone()])
        self.buffer[self.length] = step
        self.length += 1

    def replace(self, rollout: TensorDictBase) -> None:
        """Hold ``rollout`` (batch size [T]) instead of the steps so far."""
        self.buffer, self.length, self.dropped = rollout, rollout.batch_size[0], 0

    @property
    def view(self) -> TensorDictBase:
        if self.buffer is None:
            return TensorDict(batch_size=[0])
        return self.buffer[: self.length]


class LiveEnvSession:
    """A live env (the config's transforms, rendering) stepped one step per call.

    Steps come from the policy (:meth:`step_policy`), from the user (:meth:`step_action`) or at
    random (:meth:`step_random`); each appends to :attr:`rollout`. After a step that ends the
    episode, the next step starts a new one, as a collector would.
    """

    def __init__(self, config: RunConfig, weights: Weights = None) -> None:
        self.config = config
        self.env = make_render_env(config, draw_observation=True)
        if self.env.batch_size:  # VMAS steps a batch of worlds, even for one copy
            self.env.close()
            raise ValueError(f"env.id: the live env steps one env; {config.env.id} keeps a batch of "
                             f"{list(self.env.batch_size)} of its own: a VMAS scenario cannot be driven here yet")
        try:
            self.algorithm, self.weights_note = build_policy(config, self.env, weights)
        except Exception:
            self.env.close()
            raise
        self.policy = self.algorithm.eval_policy
        self.deterministic = config.eval.deterministic
        #: a multi-agent env's agents, group by group ([] for one agent), and the one the user drives
        self.seats: list[Seat] = agent_seats(self.env) if is_multi_agent_env(self.env) else []
        self.driven: Seat | None = None
        self.kind = group_action_kinds(self.env)[self.seats[0].group] if self.seats else action_kind(self.env)
        self.steps = GrowingRollout()
        self.episodes = 0
        self.reset()

    # ---- what the UI asks about -----------------------------------------------------------------

    @property
    def rollout(self) -> TensorDictBase:
        """Every step so far, batch size [T]."""
        return self.steps.view

    @property
    def action_spec(self):
        """What the user's action may be: the env's, or in a multi-agent env one agent's (the
        driven one, else the first)."""
        if not self.seats:
            return self.env.action_spec
        return seat_action_spec(self.env, self.driven or self.seats[0])

    @property
    def action_count(self) -> int | None:
        """Number of discrete actions (None for continuous ones)."""
        return self.action_spec.space.n if self.kind == "discrete" else None

    def drive(self, seat: Seat | None) -> str:
        """Let the user act for ``seat`` (the policy for every other agent); None: the policy acts
        for all. Returns what now drives."""
        self.driven = seat
        self.kind = group_action_kinds(self.env)[(seat or self.seats[0]).group]
        return f"You drive {seat.label}; the policy drives the others." if seat else "The policy drives every agent."

    def drive_next(self) -> str:
        """Drive the next agent (group by group), after the last none."""
        order = [None, *self.seats]
        return self.drive(order[(order.index(self.driven) + 1) % len(order)])

    def describe_actions(self) -> str:
        spec = self.action_spec
        if self.kind == "discrete":
            return f"one of 0..{spec.space.n - 1}"
        low, high = spec.space.low.flatten(), spec.space.high.flatten()
        bounds = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(low.tolist(), high.tolist()))
        return f"{spec.shape.numel()} value(s) in {bounds}"

    # ---- stepping -------------------------------------------------------------------------------

    def load_weights(self, weights: Weights) -> None:
        """Swap in fresher weights; the steps taken so far keep the outputs they had."""
        self.weights_note = apply_weights(self.algorithm, weights)

    def reset(self) -> None:
        """Start a new episode (the steps so far stay in the rollout)."""
        self.current = self.env.reset()
        self.episodes += 1
        self.needs_reset = False

    def step_policy(self) -> TensorDictBase:
        return self.step_with(None)

    def step_random(self) -> TensorDictBase:
        return self.step_with(self.env.full_action_spec.rand() if self.seats else self.env.action_spec.rand())

    def step_action(self, action: int | float | str | Sequence[float]) -> TensorDictBase:
        """Take ``action``: a discrete index, or the values of a continuous action (numbers or a
        string such as ``"0.5, -1"``). ActionError says what the env accepts otherwise."""
        return self.step_with(self.parse_action(action))

    def play_episode(self, max_steps: int = MAX_RECORDED_STEPS) -> TensorDictBase:
        """Let the policy play one whole episode (at most ``max_steps`` steps, frames kept) from a
        fresh reset; it replaces the steps so far. Returns the rollout."""
        rollout = play_episode(self.env, self.policy, deterministic=self.deterministic, max_steps=max_steps)
        # the frame after a step is the next step's root frame; kept once, not twice
        rollout = rollout.exclude(("next", PIXELS_KEY))
        if self.seats:  # each group's outputs, under the group's name
            rollout.set(POLICY_KEY, agents_policy_outputs(self.policy, rollout, self.deterministic))
            self.steps.replace(rollout)
        else:
            self.steps.replace(with_policy_outputs(rollout, self.policy, deterministic=self.deterministic))
        self.episodes += 1
        self.needs_reset = True  # the env stands where the episode ended
        return self.rollout

    def step_with(self, action: torch.Tensor | None) -> TensorDictBase:
        """One step with ``action`` (None: the policy's); returns the recorded step."""
        if self.needs_reset:
            self.reset()
        td = self.current.clone(False)
        if self.seats:
            self.act_for_agents(td, action)
        else:
            outputs = policy_outputs(self.policy, td, self.deterministic)
            td.set(POLICY_KEY, outputs)
            carry_memory(td, outputs)
            td.set("action", outputs.get("action") if action is None else action)
        td = self.env.step(td)
        self.steps.append(td.exclude(("next", PIXELS_KEY)))
        self.current = step_mdp(td, keep_other=False)
        self.needs_reset = bool(td.get(("next", "done")).any())
        return self.steps.view[-1]

    def act_for_agents(self, td: TensorDictBase, action: torch.Tensor | TensorDictBase | None) -> None:
        """Every group's action into ``td``: the policy's, the driven agent's row replaced by
        ``action``; a TensorDict ``action`` (a random step) holds every group's."""
        outputs = agents_policy_outputs(self.policy, td, self.deterministic)
        td.set(POLICY_KEY, outputs)
        if isinstance(action, TensorDictBase):
            td.update(action)
            return
        if action is not None and self.driven is None:
            raise ActionError("action: choose the agent you drive first (g)")
        for group in {seat.group for seat in self.seats}:
            group_action = outputs.get((group, "action")).clone()
            if action is not None and self.driven.group == group:
                group_action[self.driven.index] = action
            td.set((group, "action"), group_action)

    def parse_action(self, action: int | float | str | Sequence[float]) -> torch.Tensor:
        spec = self.action_spec
        env_id = self.config.env.id
        values = split_numbers(action) if isinstance(action, str) else action
        if self.kind == "discrete":
            count = spec.space.n
            if isinstance(values, Sequence) and len(values) == 1:
                values = values[0]
            if isinstance(values, bool) or not isinstance(values, (int, float)) or values != int(values) or not 0 <= values < count:
                raise ActionError(f"action: {action!r} is not an action of {env_id}; choose one of 0..{count - 1}")
            return torch.tensor(int(values), dtype=spec.dtype).reshape(spec.shape)
        values = [values] if isinstance(values, (int, float)) else list(values)
        size = spec.shape.numel()
        if len(values) != size:
            raise ActionError(f"action: {env_id} takes {size} value(s) ({self.describe_actions()}); got {len(values)}")
        tensor = torch.tensor(values, dtype=spec.dtype).reshape(spec.shape)
        if not spec.is_in(tensor):
            raise ActionError(f"action: {values} is out of bounds for {env_id}; give {self.describe_actions()}")
        return tensor

    def close(self) -> None:
        if not self.env.is_closed:
            self.env.close()


def split_numbers(text: str) -> list[float]:
    """``"0.5, -1"`` -> ``[0.5, -1.0]``; ActionError naming the first word that is not a number."""
    words = [word for word in re.split(r"[,\s]+", text.strip()) if word]
    if not words:
        raise ActionError("action: type a number (or several, separated by commas)")
    numbers = []
    for word in words:
        try:
            numbers.append(float(word))
        except ValueError:
            raise ActionError(f"action: {word!r} is not a number") from None
    return numbers
