"""SAC for discrete actions: a Categorical actor and twin Q-networks giving a value per action,
with a learned entropy temperature alpha, trained on replayed transitions; the target networks
follow by soft updates (TorchRL's DiscreteSACLoss)."""

from __future__ import annotations

from torchrl.envs import EnvBase
from torchrl.objectives import DiscreteSACLoss, LossModule

from tui_rl.config.algorithms import DiscreteSACConfig
from tui_rl.engine.algorithms.sac import SAC
from tui_rl.engine.networks.heads import action_size, make_action_net, make_stochastic_actor


class DiscreteSAC(SAC):
    """SAC's update (sac.py); only the networks and the loss differ."""

    name = "sac-discrete"

    def build(self, env: EnvBase) -> LossModule:
        algo: DiscreteSACConfig = self.config.algorithm
        # Sampling explores; evaluation under DETERMINISTIC takes the most likely action.
        actor = make_stochastic_actor(self.config, env, self.device)
        self.set_policies(actor)
        loss = DiscreteSACLoss(
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
