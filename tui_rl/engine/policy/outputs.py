"""What a policy makes of each step of a rollout, kept beside the step under ``policy``.

Q-values ``action_value`` for DQN, ``logits`` and ``probs`` or ``loc`` and ``scale`` for PPO, A2C
and SAC, the ``action`` it would take (the deterministic action for DDPG), and with a memory core
the recurrent state it carries on from the step (``recurrent_state_h`` / ``_c`` for an LSTM,
``recurrent_state`` for a GRU: its state after reading the step's observation). The trainer adds
them to the rollouts it sends (:func:`with_policy_outputs`), so the inspector need not rebuild the
policy; the inspector's own live env adds them step by step (:func:`policy_outputs`).
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import ProbabilisticTensorDictModule
from torchrl.envs import set_exploration_type

from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY, IndependentBernoullis, IndependentCategoricals
from tui_rl.engine.networks.recurrent import STATE_KEYS
from tui_rl.engine.policy.playback import exploration_type

POLICY_KEY = "policy"
#: the recurrent states a memory core carries from step to step
MEMORY_KEYS = tuple(dict.fromkeys(key for keys in STATE_KEYS.values() for key in keys))
#: what a policy writes that is worth showing beside a step, in this order
POLICY_OUTPUT_KEYS = ("action_value", "logits", "probs", "loc", "scale", "action", *MEMORY_KEYS)


def missing_inputs(policy: Any, td: TensorDictBase) -> list[str]:
    """The keys ``policy`` reads that ``td`` lacks (a replay sample of another shape, a foreign rollout)."""
    present = td.keys(include_nested=True)
    return [str(key) for key in policy.in_keys if key not in present]


def policy_outputs(policy: Any, td: TensorDictBase, deterministic: bool = True) -> TensorDictBase:
    """What ``policy`` makes of the observations in ``td`` (any batch size), as a TensorDict of
    :data:`POLICY_OUTPUT_KEYS` on ``td``'s device; ``td`` itself is left as it was. ``td`` must
    hold what the policy reads (see :func:`missing_inputs`)."""
    device = next((param.device for param in policy.parameters()), td.device)
    inputs = td.select(*policy.in_keys).to(device) if device is not None else td.select(*policy.in_keys)
    with torch.no_grad(), set_exploration_type(exploration_type(deterministic)):
        out = policy(inputs.clone())
    if "logits" in out.keys():
        mask = inputs.get(ACTION_MASK_KEY) if ACTION_MASK_KEY in inputs.keys() else None
        out.set("probs", choice_probabilities(policy, out.get("logits"), mask))
    for key in MEMORY_KEYS:  # the state after the step, not the one it started from
        if ("next", key) in out.keys(include_nested=True):
            out.set(key, out.get(("next", key)))
    out = out.select(*[key for key in POLICY_OUTPUT_KEYS if key in out.keys()])
    return out.to(td.device) if td.device is not None else out


def choice_probabilities(policy: Any, logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Each choice's probability as ``policy``'s own distribution gives it from ``logits``: one
    softmax for a categorical, one per part of a multi-discrete action (each part's sum is 1), each
    switch's own for a binary one; an illegal choice (``mask`` False) gets none."""
    head = next((m for m in policy.modules() if isinstance(m, ProbabilisticTensorDictModule)), None)
    distribution = getattr(head, "distribution_class", None)
    if distribution is IndependentBernoullis:
        return logits.sigmoid()
    if mask is not None:  # what the masked distributions draw from: illegal ones never
        logits = logits.masked_fill(~mask.reshape(logits.shape).bool(), float("-inf"))
    if distribution is IndependentCategoricals:
        parts = logits.split(list(head.distribution_kwargs["choices"]), dim=-1)
        return torch.cat([part.softmax(-1) for part in parts], dim=-1)
    return logits.softmax(-1)


def carry_memory(td: TensorDictBase, outputs: TensorDictBase) -> None:
    """Hand a memory core's state in ``outputs`` on to the step after ``td`` (``("next", key)``),
    as a collector does; without it a policy stepped outside a collector starts every step afresh."""
    for key in MEMORY_KEYS:
        if key in outputs.keys():
            td.set(("next", key), outputs.get(key))


def with_policy_outputs(rollout: TensorDictBase, policy: Any, *, deterministic: bool = True) -> TensorDictBase:
    """``rollout`` (a new TensorDict sharing its tensors) with ``policy``'s outputs for every step
    under ``policy``. ``policy``: a policy module or an :class:`Algorithm` (its eval policy).
    A rollout that lacks what the policy reads comes back as it was: whoever shows it says why."""
    policy = getattr(policy, "eval_policy", policy)
    if missing_inputs(policy, rollout):
        return rollout
    annotated = rollout.clone(False)
    annotated.set(POLICY_KEY, policy_outputs(policy, rollout, deterministic))
    return annotated
