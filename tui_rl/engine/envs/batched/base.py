"""What every batched classic-control env shares: specs, the step and partial-reset loop, the time
limit, seeding and rendering. A subclass only states its constants and its dynamics.

All copies live in one state tensor (``batch + (state_size,)``, float64 as Gymnasium computes)
and step together with tensor ops, on the CPU or a GPU. The step returns observations, reward and
done flags as Gymnasium's TimeLimit-wrapped env would; finished copies are reset by TorchRL's
partial resets (the ``_reset`` mask) without touching the others.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from tensordict import TensorDictBase
from torchrl.data import Bounded, Categorical, Composite, Unbounded
from torchrl.envs import EnvBase

from tui_rl.engine.compat import unchecked_tensordict

#: the batched envs' state and dynamics dtype: Gymnasium steps classic control in float64 numpy
STATE_DTYPE = torch.float64


@dataclass
class Copies:
    """The state of every copy, kept outside the env (an ``nn.Module``, whose attribute writes are
    slow) because it changes every step."""

    #: batch + (state size,), float64
    state: torch.Tensor
    #: batch + (1,): steps since each copy's reset (Gymnasium's TimeLimit ``_elapsed_steps``)
    elapsed: torch.Tensor


class BatchedClassicEnv(EnvBase):
    """``num_envs`` copies of one Gymnasium classic-control env stepped as tensors.

    With one copy the batch size is ``[]``, as for a plain Gymnasium env under TorchRL's
    GymWrapper, so single-env code (evaluation, the inspector, previews) sees the same shapes.
    """

    #: the Gymnasium id this env reproduces (also used to render its frames)
    gym_id: ClassVar[str]
    #: Gymnasium's ``max_episode_steps`` for the id
    max_episode_steps: ClassVar[int]
    #: the Gymnasium kwargs this env takes, with their defaults
    options: ClassVar[dict[str, Any]] = {}
    #: the bounds of the uniform initial state, one pair per state entry
    reset_low: ClassVar[tuple[float, ...]]
    reset_high: ClassVar[tuple[float, ...]]
    #: the observation's bounds (Gymnasium's observation space); the low ones default to -high
    observation_high: ClassVar[tuple[float, ...]]
    observation_low: ClassVar[tuple[float, ...] | None] = None
    #: discrete actions: how many; continuous actions (None): bounded by ``action_bound``
    num_actions: ClassVar[int | None] = None
    action_bound: ClassVar[float] = 1.0

    def __init__(
        self,
        num_envs: int = 1,
        *,
        device: str | torch.device = "cpu",
        max_episode_steps: int | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - set(self.options)
        if unknown:
            raise TypeError(f"{self.gym_id} (batched) does not take {', '.join(sorted(unknown))}")
        batch_size = torch.Size([num_envs] if num_envs > 1 else [])
        super().__init__(device=device, batch_size=batch_size)
        self.settings = {**self.options, **options}
        self.limit = max_episode_steps or self.max_episode_steps
        self.copies = Copies(
            torch.zeros(*batch_size, len(self.reset_low), dtype=STATE_DTYPE, device=self.device),
            torch.zeros(*batch_size, 1, dtype=torch.int64, device=self.device),
        )
        self.generator = torch.Generator(device=self.device)
        self.place_constants()
        self._make_specs()

    def place_constants(self) -> None:
        """Make the constant tensors the step reads on the env's device (again after :meth:`to`)."""
        self._false = torch.zeros(*self.batch_size, 1, dtype=torch.bool, device=self.device)
        self._reset_low = torch.tensor(self.reset_low, dtype=STATE_DTYPE, device=self.device)
        self._reset_span = torch.tensor(self.reset_high, dtype=STATE_DTYPE, device=self.device) - self._reset_low

    def to(self, device: str | torch.device) -> BatchedClassicEnv:
        """EnvBase moves the specs; the copies' state, the constants and the random generator
        (reseeded from the old one, so a seeded run stays reproducible) move here."""
        super().to(device)
        if self.copies.state.device != self.device:
            self.copies = Copies(self.copies.state.to(self.device), self.copies.elapsed.to(self.device))
            seed = int(torch.randint(2**62, (), generator=self.generator, device=self.generator.device))
            self.generator = torch.Generator(device=self.device)
            self.generator.manual_seed(seed)
            self.place_constants()
        return self

    def _make_specs(self) -> None:
        batch = self.batch_size
        high = torch.tensor(self.observation_high, dtype=torch.float32, device=self.device)
        low = -high if self.observation_low is None else torch.tensor(self.observation_low).to(high)
        high, low = high.expand(*batch, high.numel()), low.expand(*batch, high.numel())
        self.observation_spec = Composite(
            observation=Bounded(low, high, shape=high.shape, dtype=torch.float32, device=self.device),
            shape=batch,
        )
        if self.num_actions is not None:
            self.action_spec = Categorical(self.num_actions, shape=batch, dtype=torch.int64, device=self.device)
        else:
            self.action_spec = Bounded(
                -self.action_bound, self.action_bound, shape=(*batch, 1), dtype=torch.float32, device=self.device
            )
        self.reward_spec = Unbounded(shape=(*batch, 1), dtype=torch.float32, device=self.device)
        flag = Categorical(2, shape=(*batch, 1), dtype=torch.bool, device=self.device)
        self.done_spec = Composite(done=flag, terminated=flag.clone(), truncated=flag.clone(), shape=batch)

    # -- what a subclass writes ------------------------------------------------------------------

    def dynamics(self, state: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The next state, the reward (float) and terminated (bool) of every copy, both
        ``batch + (1,)``, for ``action`` (as the action spec has it)."""
        raise NotImplementedError

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """The observation of each copy's state (float32); by default the state itself."""
        return state.to(torch.float32)

    def show(self, renderer: Any, state: np.ndarray) -> None:
        """Put one copy's ``state`` into the Gymnasium env that draws it."""
        renderer.state = state

    # -- TorchRL's EnvBase -----------------------------------------------------------------------

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        copies = self.copies
        copies.state, reward, terminated = self.dynamics(copies.state, tensordict.get("action"))
        copies.elapsed = elapsed = copies.elapsed + 1
        truncated = elapsed >= self.limit
        return unchecked_tensordict(
            {
                "observation": self.observe(copies.state),
                "reward": reward.to(torch.float32),
                "terminated": terminated,
                "truncated": truncated,
                "done": terminated | truncated,
            },
            self.batch_size,
            self.device,
        )

    def _reset(self, tensordict: TensorDictBase | None, **kwargs: Any) -> TensorDictBase:
        copies = self.copies
        fresh = self.initial_state()
        mask = None if tensordict is None else tensordict.get("_reset", None)
        if mask is None:  # a full reset
            copies.state, copies.elapsed = fresh, torch.zeros_like(copies.elapsed)
        else:  # only the copies flagged in ``_reset`` (shape batch + (1,)) start over
            copies.state = torch.where(mask, fresh, copies.state)
            copies.elapsed = copies.elapsed.masked_fill(mask, 0)
        flags = self._false.clone()
        return unchecked_tensordict(
            {"observation": self.observe(copies.state), "terminated": flags, "truncated": flags, "done": flags},
            self.batch_size,
            self.device,
        )

    def initial_state(self) -> torch.Tensor:
        """A fresh state for every copy, uniform within Gymnasium's reset bounds."""
        noise = torch.rand(self.copies.state.shape, generator=self.generator, dtype=STATE_DTYPE, device=self.device)
        return self._reset_low + noise * self._reset_span

    def _set_seed(self, seed: int | None) -> None:
        self.generator.manual_seed(int(seed) if seed is not None else torch.seed())

    # -- frames ----------------------------------------------------------------------------------

    @functools.cached_property
    def gym_renderer(self) -> Any:
        """The Gymnasium env that draws this env's frames (its renderer is reused, not copied); its
        ``metadata`` (render modes, fps) is the one the inspector and videos read."""
        import gymnasium

        renderer = gymnasium.make(self.gym_id, render_mode="rgb_array", **self.settings).unwrapped
        renderer.reset(seed=0)
        return renderer

    def render(self, copy: int = 0) -> np.ndarray:
        """An rgb frame (H x W x 3, uint8) of one copy (the first by default)."""
        state = self.copies.state if not self.batch_size else self.copies.state[copy]
        self.show(self.gym_renderer, state.cpu().numpy())
        return self.gym_renderer.render()

    def close(self, *, raise_if_closed: bool = True) -> None:
        renderer = self.__dict__.pop("gym_renderer", None)
        if renderer is not None:
            renderer.close()
        super().close(raise_if_closed=raise_if_closed)
