"""Distributions over actions made of several parts: one choice per dimension (MultiDiscrete) and
one on/off switch per dimension (MultiBinary), each part independent of the others, so an action's
log-probability is the sum of its parts' and its mode is each part's mode."""

from __future__ import annotations

import torch
from torch import distributions as D
from torchrl.data import Binary, Categorical, MultiCategorical, TensorSpec

from tui_rl.config.algorithms import ActionKind

#: where an env puts which actions are legal now (a Dict observation entry or an info entry): True
#: marks a legal action. The policy reads it to mask its choice; it is never a network input.
ACTION_MASK_KEY = "action_mask"

#: the logit an illegal action gets: finite, so its probability is exactly 0 and a loss that weighs
#: every action's log-probability by its probability (discrete SAC's) reads 0 for it, not 0 x -inf
MASKED_LOGIT = -1e8


def has_action_mask(env) -> bool:
    """Whether ``env`` (made by tui-rl) gives an action mask the policy reads."""
    return ACTION_MASK_KEY in env.observation_spec.keys()


def spec_kind(spec: TensorSpec) -> ActionKind:
    """One choice among n (Discrete), a vector of reals (Box), several choices at once
    (MultiDiscrete; TorchRL stacks those of equal sizes into one Categorical with a shape) or
    several on/off switches (MultiBinary); ``spec`` is unbatched."""
    if isinstance(spec, Binary):
        return "binary"
    if isinstance(spec, MultiCategorical) or (isinstance(spec, Categorical) and spec.shape != ()):
        return "multi-discrete"
    return "discrete" if spec.domain == "discrete" else "continuous"


def choice_counts(spec: TensorSpec) -> tuple[int, ...]:
    """How many choices each dimension of a multi-discrete action (unbatched ``spec``) has."""
    if isinstance(spec, MultiCategorical):
        return tuple(spec.nvec.flatten().tolist())
    return (spec.space.n,) * spec.shape.numel()


class IndependentCategoricals(D.Distribution):
    """One categorical per action dimension, dimension ``i`` choosing among ``choices[i]``, from
    one flat vector of logits (the dimensions' logits one after another). ``mask``, where the env
    gives one, is as flat: True for each legal choice of each dimension (Gymnasium's MultiDiscrete
    mask, its parts joined), and an illegal choice gets no probability."""

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, logits: torch.Tensor, choices: tuple[int, ...], mask: torch.Tensor | None = None) -> None:
        if mask is not None:
            logits = logits.masked_fill(~mask.reshape(logits.shape).bool(), MASKED_LOGIT)
        self.parts = [D.Categorical(logits=part) for part in logits.split(list(choices), dim=-1)]
        super().__init__(logits.shape[:-1], torch.Size([len(choices)]), validate_args=False)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return torch.stack([part.sample(sample_shape) for part in self.parts], dim=-1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return sum(part.log_prob(value[..., i].long()) for i, part in enumerate(self.parts))

    def entropy(self) -> torch.Tensor:
        return sum(part.entropy() for part in self.parts)

    @property
    def mode(self) -> torch.Tensor:
        return torch.stack([part.logits.argmax(-1) for part in self.parts], dim=-1)

    @property
    def deterministic_sample(self) -> torch.Tensor:
        return self.mode


class IndependentBernoullis(D.Independent):
    """One on/off switch per action dimension, from one logit each; the mode switches on where
    the logit is positive (torch's Bernoulli leaves an even chance undecided)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__(D.Bernoulli(logits=logits, validate_args=False), 1, validate_args=False)

    @property
    def mode(self) -> torch.Tensor:
        return (self.base_dist.logits > 0).to(self.base_dist.logits.dtype)

    @property
    def deterministic_sample(self) -> torch.Tensor:
        return self.mode
