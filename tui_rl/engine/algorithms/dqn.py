"""DQN: a Q-network acting epsilon-greedily, trained on replayed TD targets from a target network;
with a memory core and the slice sampler, a DRQN learning on replayed sequences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensordict import TensorDict, TensorDictBase
from torchrl.envs import EnvBase
from torchrl.modules import EGreedyModule
from torchrl.objectives import DQNLoss, LossModule

from tui_rl.config.algorithms import DQNConfig
from tui_rl.engine.algorithms.base import Algorithm, live_setting
from tui_rl.engine.algorithms.optimisation import LossMeans, gradient_step, total_loss
from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY, has_action_mask
from tui_rl.engine.networks.heads import make_q_actor
from tui_rl.engine.networks.recurrent import sequence_mode


class DQN(Algorithm):
    name = "dqn"

    def build(self, env: EnvBase) -> LossModule:
        algo: DQNConfig = self.config.algorithm
        actor = make_q_actor(self.config, env, self.device)
        self.exploration = EGreedyModule(
            env.action_spec_unbatched, eps_init=algo.eps_start, eps_end=algo.eps_end,
            annealing_num_steps=algo.eps_decay_frames, device=self.device,
            action_mask_key=ACTION_MASK_KEY if has_action_mask(env) else None,  # random actions legal too
        )
        self.set_policies(actor, self.exploration)
        self.annealed_frames = 0  # the frame count epsilon has been annealed to
        loss = DQNLoss(actor, loss_function=algo.loss_function, delay_value=True, double_dqn=algo.double_dqn)
        return self.replay_parts(loss, algo.hard_update_period if algo.target_update == "hard" else None)

    def update(self, batch: TensorDictBase, frames: int) -> dict[str, float]:
        config = self.config
        epsilon = self.anneal_epsilon(frames)
        means = LossMeans()
        for minibatch in self.replayed(batch, frames):
            # A memory core learns through time on sliced sequences (DRQN); on single
            # transitions it starts from each one's stored state.
            with sequence_mode(config.replay_buffer.sampler == "slice"):
                losses = TensorDict(loss_qvalue=self.loss_module(minibatch)["loss"])
            gradient_step(total_loss(losses), self.optimizer, config.optim.max_grad_norm)
            self.target_updater.step()
            means.add(losses)
        return {**means.means(), "epsilon": epsilon}

    def anneal_epsilon(self, frames: int) -> float:
        """Move epsilon to where its schedule is at ``frames``; its value."""
        # EGreedyModule anneals one step per frame. eps_decay_frames steps (one more for float32
        # rounding) reach eps_end from anywhere, so a resumed run (annealed_frames 0) takes at most
        # that many to catch up; at eps_end no step is needed, until a live eps_end change moves it.
        exploration = self.exploration
        steps = min(frames - self.annealed_frames, self.config.algorithm.eps_decay_frames + 1)
        if steps > 0 and exploration.eps != exploration.eps_end:
            exploration.step(steps)
        self.annealed_frames = frames
        return exploration.eps.item()

    def live_settings(self) -> dict[str, Callable[[Any], None]]:
        return {**super().live_settings(), "algorithm.eps_end": live_setting(self.exploration, "eps_end")}
