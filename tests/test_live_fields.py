"""Every live field of every algorithm in the registry takes effect on the real TorchRL objects.

The cases are enumerated from the registry (``ALGORITHMS``) and ``live_fields``: a live field added
without an observer here fails, and so does one the algorithm does not apply. Fields the trainer
applies itself (not the algorithm) are observed once, on a real trainer run.
"""

from __future__ import annotations

import math

import pytest
import torch
from torchrl.objectives.value import GAE

from tui_rl.config import ALGORITHMS, RunConfig, apply_overrides, edit, live_fields, validate
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.run.trainer import Trainer
from tui_rl.engine.algorithms.mappo import group_keys
from tui_rl.engine.protocol import Checkpointed, Evaluated, SetHparams
from tui_rl.engine.runs.record import create_run

torch.set_num_threads(1)

ENV_FOR_KIND = {"discrete": "CartPole-v1", "continuous": "Pendulum-v1"}
BATCH = 64


def base_config(name: str, changes: dict | None = None) -> RunConfig:
    config = validate({
        "env": {"id": "mpe/simple_spread" if ALGORITHMS[name].multi_agent else ENV_FOR_KIND[ALGORITHMS[name].action_kinds[0]],
                "num_envs": 2},
        "algorithm": {"name": name},
        "network": {"hidden_sizes": [16]},
        "collector": {"frames_per_batch": BATCH, "init_random_frames": 0},
        "replay_buffer": {"batch_size": 32, "size": 1000},
    })
    if name in ("ppo", "mappo", "ippo"):
        config = edit(config, {"algorithm.epochs": 2, "algorithm.minibatch_size": 16})
    if name in ("qmix", "vdn"):  # DQN's schedule
        config = edit(config, {"algorithm.eps_decay_frames": 10_000, "algorithm.eps_start": 1.0, "algorithm.eps_end": 0.05})
    return edit(config, changes or {})


class Rig:
    """A real env and algorithm, a collected batch, and a record of what the loss was called on."""

    def __init__(self, name: str, changes: dict | None = None) -> None:
        torch.manual_seed(0)  # the same networks and play whatever ran before
        self.config = base_config(name, changes)
        self.env = make_env(self.config)
        self.algorithm = build_algorithm(self.config, self.env, "cpu")
        steps = BATCH // self.config.env.num_envs
        with torch.no_grad():  # as a collector gathers it
            self.batch = self.env.rollout(steps, self.algorithm.collector_policy, break_when_any_done=False)
        self.loss_inputs: list[int] = []
        self.algorithm.loss_module.register_forward_pre_hook(
            lambda module, args: self.loss_inputs.append(args[0].numel())
        )
        self.frames = 0

    @property
    def loss(self):
        return self.algorithm.loss_module

    @property
    def group(self) -> str | None:
        """The first group of agents of a multi-agent env; None for a single-agent one."""
        return self.algorithm.groups[0] if self.config.algorithm.multi_agent else None

    @property
    def own_loss(self):
        """The TorchRL loss: the first group's in a multi-agent env."""
        return self.loss.groups[self.group] if self.group else self.loss

    def set(self, path: str, value) -> None:
        """A live change, as the trainer makes it."""
        self.algorithm.apply_hparams(edit(self.algorithm.config, {path: value}, live_only=True))

    def update(self, frames: int = BATCH) -> dict[str, float]:
        self.frames += frames
        self.loss_inputs.clear()
        return self.algorithm.update(self.batch.clone(), self.frames)

    def on_policy_losses(self):
        """The loss of the whole batch, its advantages computed by the algorithm's estimator."""
        batch = self.batch.clone()
        with torch.no_grad():
            self.algorithm.value_estimator(batch)
            return self.loss(batch.reshape(-1)), batch

    def target_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One source parameter of a target network and its target copy."""
        for net in ("value_network", "qvalue_network", "local_value_network"):
            if getattr(self.loss, f"target_{net}_params", None) is not None:
                source = next(iter(getattr(self.loss, f"{net}_params").values(True, True)))
                target = next(iter(getattr(self.loss, f"target_{net}_params").values(True, True)))
                return source, target
        raise AssertionError("no target network")

    def noise_spread(self) -> float:
        """Std of the difference between exploring and greedy actions over a rollout."""
        with torch.no_grad():
            rollout = self.env.rollout(32, self.algorithm.collector_policy, break_when_any_done=False)
            greedy = self.algorithm.eval_policy(rollout.exclude("action").clone())["action"]
        return (rollout["action"] - greedy).std().item()


def grad_norm(module) -> float:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()


# ---- how each live field is observed ------------------------------------------------------------


def observe_lr(rig: Rig) -> None:
    rig.set("optim.lr", 1.25e-4)
    rig.update()
    groups = [g for optimizer in rig.algorithm.optimizers().values() for g in optimizer.param_groups]
    assert [g["lr"] for g in groups] == pytest.approx([1.25e-4] * len(groups))


def observe_max_grad_norm(rig: Rig) -> None:
    rig.update()
    assert grad_norm(rig.loss) > 1e-3, "unclipped gradients are larger than the new bound"
    rig.set("optim.max_grad_norm", 1e-3)
    rig.update()
    assert 0 < grad_norm(rig.loss) <= 1e-3 * 1.001


def observe_gamma(rig: Rig) -> None:
    rig.set("algorithm.gamma", 0.5)
    if rig.config.algorithm.on_policy:
        observe_advantage(rig, gamma=0.5, lmbda=rig.config.algorithm.gae_lambda)
    else:
        assert rig.loss.value_estimator.gamma.item() == pytest.approx(0.5)


def observe_gae_lambda(rig: Rig) -> None:
    rig.set("algorithm.gae_lambda", 0.3)
    observe_advantage(rig, gamma=rig.config.algorithm.gamma, lmbda=0.3)


def observe_advantage(rig: Rig, gamma: float, lmbda: float) -> None:
    """The algorithm's advantages are those of a GAE built with ``gamma`` and ``lmbda``."""
    _, batch = rig.on_policy_losses()
    expected = rig.batch.clone()
    group = rig.group
    critic = rig.algorithm.estimators[group].value_network if group else rig.algorithm.critic
    gae = GAE(gamma=gamma, lmbda=lmbda, value_network=critic)
    if group:
        gae.set_keys(**group_keys(group))
    with torch.no_grad():
        gae(expected)
    advantage = (group, "advantage") if group else "advantage"
    assert torch.allclose(batch[advantage], expected[advantage], atol=1e-5)


def observe_tau(rig: Rig) -> None:
    rig.set("algorithm.tau", 0.5)
    source, target = rig.target_pair()
    with torch.no_grad():
        source.add_(1.0)
    before = target.clone()
    rig.algorithm.target_updater.step()
    assert torch.allclose(target, before + 0.5 * (source.data - before))


def observe_hard_update_period(rig: Rig) -> None:
    rig.set("algorithm.hard_update_period", 2)
    source, target = rig.target_pair()
    with torch.no_grad():
        source.add_(1.0)
    rig.algorithm.target_updater.step()
    assert not torch.equal(target, source.data), "copied before its period"
    rig.algorithm.target_updater.step()
    assert torch.equal(target, source.data)


def observe_eps_end(rig: Rig) -> None:
    decay = rig.config.algorithm.eps_decay_frames
    assert rig.update(decay)["epsilon"] == pytest.approx(rig.config.algorithm.eps_end)
    rig.set("algorithm.eps_end", 0.3)  # above the annealed epsilon: it jumps there
    assert rig.update()["epsilon"] == pytest.approx(0.3)
    rig.set("algorithm.eps_end", 0.01)  # below: it anneals down to it at the schedule's rate
    assert 0.01 < rig.update()["epsilon"] < 0.3
    assert rig.update(decay)["epsilon"] == pytest.approx(0.01)


def observe_noise_sigma(rig: Rig) -> None:
    for noise in ("gaussian", "ou"):
        noisy = rig if noise == rig.config.algorithm.noise else Rig(rig.config.algorithm.name, {"algorithm.noise": noise})
        noisy.set("algorithm.noise_sigma", 0.0)
        assert noisy.noise_spread() < 1e-6, noise
        noisy.set("algorithm.noise_sigma", 0.02)
        small = noisy.noise_spread()
        noisy.set("algorithm.noise_sigma", 0.4)
        assert noisy.noise_spread() > 4 * small > 0, noise


def observe_batch_size(rig: Rig) -> None:
    rig.set("replay_buffer.batch_size", 17)
    rig.update()
    assert rig.loss_inputs and set(rig.loss_inputs) == {17}


def observe_updates_per_batch(rig: Rig) -> None:
    rig.set("algorithm.updates_per_batch", 3)
    rig.update()
    assert len(rig.loss_inputs) == 3


def observe_epochs(rig: Rig) -> None:
    rig.set("algorithm.epochs", 3)
    rig.update()
    assert len(rig.loss_inputs) == 3 * math.ceil(BATCH / rig.config.algorithm.minibatch_size)


def observe_minibatch_size(rig: Rig) -> None:
    rig.set("algorithm.minibatch_size", 32)
    rig.update()
    assert rig.loss_inputs == [32] * (rig.config.algorithm.epochs * BATCH // 32)


def observe_clip_epsilon(rig: Rig) -> None:
    rig.set("algorithm.clip_epsilon", 0.05)
    assert rig.own_loss.clip_epsilon.item() == pytest.approx(0.05)
    # A ratio moved by more than 5 % is clipped: after a few steps some of the batch is.
    rig.set("optim.lr", 0.05)
    rig.update()
    assert rig.on_policy_losses()[0]["clip_fraction"].item() > 0


def observe_entropy_coef(rig: Rig) -> None:
    rig.set("algorithm.entropy_coef", 0.25)
    losses, _ = rig.on_policy_losses()
    assert losses["loss_entropy"].mean().item() == pytest.approx(-0.25 * losses["entropy"].mean().item(), rel=1e-4)


def observe_critic_coef(rig: Rig) -> None:
    rig.set("algorithm.critic_coef", 1.0)
    unit = rig.on_policy_losses()[0]["loss_critic"].mean().item()
    rig.set("algorithm.critic_coef", 2.5)
    assert rig.on_policy_losses()[0]["loss_critic"].mean().item() == pytest.approx(2.5 * unit, rel=1e-4)
    rig.set("algorithm.critic_coef", 0.0)
    assert rig.on_policy_losses()[0]["loss_critic"].mean().item() == 0.0


def observe_policy_delay(rig: Rig) -> None:
    rig.set("algorithm.policy_delay", 3)
    moved = []
    for _ in range(3):
        actor = [p.clone() for p in rig.loss.actor_network_params.values(True, True)]
        rig.update()
        moved.append(any(not torch.equal(a, b) for a, b in zip(actor, rig.loss.actor_network_params.values(True, True))))
    assert moved == [False, False, True]


def observe_target_noise(rig: Rig) -> None:
    rig.set("algorithm.target_noise", 0.05)  # relative to Pendulum's half range, 2
    assert float(rig.loss.policy_noise) == pytest.approx(0.1)


def observe_noise_clip(rig: Rig) -> None:
    rig.set("algorithm.noise_clip", 0.0)  # no target noise gets through: target values repeat
    batch = rig.batch.reshape(-1)
    assert torch.equal(rig.loss.value_loss(batch.clone())[1]["target_value"],
                       rig.loss.value_loss(batch.clone())[1]["target_value"])
    rig.set("algorithm.noise_clip", 0.5)
    assert float(rig.loss.noise_clip) == pytest.approx(1.0)


#: live field -> (config changes it needs to apply, how its effect is observed)
OBSERVERS = {
    "optim.lr": ({}, observe_lr),
    "optim.max_grad_norm": ({}, observe_max_grad_norm),
    "algorithm.gamma": ({}, observe_gamma),
    "algorithm.gae_lambda": ({}, observe_gae_lambda),
    "algorithm.tau": ({}, observe_tau),
    "algorithm.hard_update_period": ({"algorithm.target_update": "hard"}, observe_hard_update_period),
    "algorithm.eps_end": ({}, observe_eps_end),
    "algorithm.noise_sigma": ({}, observe_noise_sigma),
    "algorithm.updates_per_batch": ({}, observe_updates_per_batch),
    "algorithm.epochs": ({}, observe_epochs),
    "algorithm.minibatch_size": ({}, observe_minibatch_size),
    "algorithm.clip_epsilon": ({}, observe_clip_epsilon),
    "algorithm.entropy_coef": ({}, observe_entropy_coef),
    "algorithm.critic_coef": ({}, observe_critic_coef),
    "replay_buffer.batch_size": ({}, observe_batch_size),
    "algorithm.policy_delay": ({}, observe_policy_delay),
    "algorithm.target_noise": ({}, observe_target_noise),
    "algorithm.noise_clip": ({}, observe_noise_clip),
}


# ---- fields the trainer applies: observed on its behaviour, once --------------------------------


def trainer_run(tmp_path, values: dict) -> list:
    """A tiny real run (3 batches of 100 frames) that receives ``values`` live before its first batch."""
    config = apply_overrides(RunConfig(), [
        "collector.frames_per_batch=100", "collector.total_frames=300", "network.hidden_sizes=[16]",
        "replay_buffer.batch_size=32", "eval.every_frames=300", "eval.episodes=1",
        "checkpoint.every_frames=300", "env.max_episode_steps=50",
    ])
    events: list = []
    trainer = Trainer(config, create_run(config, runs_dir=tmp_path, preset="live"), events.append)
    trainer.submit(SetHparams(values))
    assert trainer.run() == "finished", [getattr(e, "message", e) for e in events]
    return events


def observe_every_frames(event_type):
    def observe(tmp_path, path: str) -> None:
        events = trainer_run(tmp_path, {path: 100})
        # A live edit first checkpoints the state before it (for undo): that one is at frame 0.
        assert [e.frames for e in events if isinstance(e, event_type) and e.frames > 0] == [100, 200, 300]

    return observe


TRAINER_OBSERVERS = {
    "eval.every_frames": observe_every_frames(Evaluated),
    "checkpoint.every_frames": observe_every_frames(Checkpointed),
}


def cases() -> list:
    found = []
    for name in ALGORITHMS:
        for path in live_fields(base_config(name)):
            trainer_case_done = path in TRAINER_OBSERVERS and any(p == path for _, p in found)
            if not trainer_case_done:
                found.append((name, path))
    return found


@pytest.mark.parametrize("name, path", cases(), ids=lambda value: value)
def test_a_live_change_takes_effect(name, path, tmp_path):
    if path in TRAINER_OBSERVERS:
        TRAINER_OBSERVERS[path](tmp_path, path)
        return
    if path not in OBSERVERS:
        pytest.fail(f"live field {path} of {name} has no observer: apply it, then observe it here")
    changes, observe = OBSERVERS[path]
    observe(Rig(name, changes))
