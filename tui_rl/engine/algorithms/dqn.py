"""DQN: a Q-network acting epsilon-greedily, trained on replayed TD targets from a target network."""

from __future__ import annotations

import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictSequential
from torchrl.envs import EnvBase
from torchrl.modules import EGreedyModule, QValueActor
from torchrl.objectives import DQNLoss

from tui_rl.config.algorithms import DQNConfig
from tui_rl.config.models import RunConfig
from tui_rl.engine.algorithms.networks import OBSERVATION_KEY, action_size, make_mlp, observation_size
from tui_rl.engine.algorithms.off_policy import OffPolicyAlgorithm


class DQN(OffPolicyAlgorithm):
    name = "dqn"

    def __init__(self, config: RunConfig, env: EnvBase, device: torch.device) -> None:
        super().__init__(config, env, device)
        algo: DQNConfig = config.algorithm
        spec = env.action_spec_unbatched
        q_net = make_mlp(config.network, observation_size(env), action_size(env), device)
        self.actor = QValueActor(q_net, in_keys=[OBSERVATION_KEY], spec=spec)
        self.exploration = EGreedyModule(
            spec, eps_init=algo.eps_start, eps_end=algo.eps_end,
            annealing_num_steps=algo.eps_decay_frames, device=device,
        )
        self.collector_policy = TensorDictSequential(self.actor, self.exploration)
        self.eval_policy = self.actor
        self.frames = 0  # the frame count epsilon was last set for
        self.setup(
            DQNLoss(
                self.actor, loss_function=algo.loss_function, delay_value=True,
                double_dqn=algo.double_dqn,
            )
        )

    def losses(self, minibatch: TensorDictBase) -> TensorDictBase:
        return TensorDict(loss_qvalue=self.loss_module(minibatch)["loss"])

    def epsilon(self, frames: int) -> float:
        """Linear annealing by frames (not by calls), so a resumed run picks up where it was."""
        algo: DQNConfig = self.config.algorithm
        progress = min(1.0, frames / algo.eps_decay_frames)
        return algo.eps_start + (algo.eps_end - algo.eps_start) * progress

    def before_updates(self, frames: int) -> dict[str, float]:
        self.frames = frames
        epsilon = self.epsilon(frames)
        self.exploration.eps.fill_(epsilon)
        return {"epsilon": epsilon}

    def apply_hparams(self, config: RunConfig) -> None:
        super().apply_hparams(config)
        self.exploration.eps_end.fill_(config.algorithm.eps_end)
        self.before_updates(self.frames)
