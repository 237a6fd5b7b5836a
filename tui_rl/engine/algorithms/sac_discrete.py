"""SAC for discrete actions: a Categorical actor and twin Q-networks giving a value per action,
with a learned entropy temperature alpha, trained on replayed transitions; the target networks
follow by soft updates (TorchRL's DiscreteSACLoss).

Where the env masks its actions, the actor is a masked categorical: an illegal action has
probability 0, so the expectations over actions (the actor's loss, the target's min-Q less the
entropy term) run over the legal ones only, and the entropy alpha aims at is that of the legal
actions of each state (``target_entropy_weight`` x log of their number), not of all of them."""

from __future__ import annotations

import torch
from torchrl.envs import EnvBase
from torchrl.objectives import DiscreteSACLoss, LossModule

from tui_rl.config.algorithms import DiscreteSACConfig
from tui_rl.engine.algorithms.sac import SAC
from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY, has_action_mask
from tui_rl.engine.networks.heads import action_size, make_action_net, make_stochastic_actor


class DiscreteSAC(SAC):
    """SAC's update (sac.py); only the networks and the loss differ."""

    name = "sac-discrete"

    def build(self, env: EnvBase) -> LossModule:
        algo: DiscreteSACConfig = self.config.algorithm
        # Sampling explores; evaluation under DETERMINISTIC takes the most likely action.
        actor = make_stochastic_actor(self.config, env, self.device)
        self.set_policies(actor)
        loss = (LegalActionsSACLoss if has_action_mask(env) else DiscreteSACLoss)(
            actor,
            make_action_net(self.config, env, self.device, "action_value"),  # Q(s, a) for every a at once
            num_actions=action_size(env),
            num_qvalue_nets=2,
            loss_function="l2",
            alpha_init=algo.alpha_init,
            fixed_alpha=algo.fixed_alpha,
            target_entropy_weight=algo.target_entropy_weight,
            action_space=env.action_spec_unbatched,
        )
        return self.replay_parts(loss)


class LegalActionsSACLoss(DiscreteSACLoss):
    """DiscreteSACLoss whose temperature aims at each state's legal actions' entropy: with two
    legal actions of four, the most a policy can have is log 2, and an aim of log 4 would raise
    alpha for ever."""

    def __init__(self, *args, target_entropy_weight: float, **kwargs) -> None:
        super().__init__(*args, target_entropy_weight=target_entropy_weight, **kwargs)
        self.target_entropy_weight = target_entropy_weight
        self.legal_target: torch.Tensor | None = None

    def actor_loss(self, tensordict):
        legal = tensordict.get(ACTION_MASK_KEY).sum(-1).clamp_min(1).to(self.target_entropy.dtype)
        self.legal_target = self.target_entropy_weight * legal.log()  # read by _alpha_loss, in the same forward
        return super().actor_loss(tensordict)

    def _alpha_loss(self, log_prob: torch.Tensor) -> torch.Tensor:
        if self.legal_target is None:
            return super()._alpha_loss(log_prob)
        return -self.log_alpha * (log_prob + self.legal_target)
