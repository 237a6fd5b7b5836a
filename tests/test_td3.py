"""TD3 trains on Pendulum, updates its actor and targets only every ``policy_delay`` steps, and
takes live edits of its own fields; a run resumes with its actor's turns."""

from __future__ import annotations


import pytest
import torch

from helpers import train_briefly

from tui_rl.config import ALGORITHMS, edit, validate
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs.making import make_env

torch.set_num_threads(1)


def td3_config(**algorithm):
    return validate({
        "env": {"id": "Pendulum-v1", "num_envs": 2},
        "algorithm": {"name": "td3", **algorithm},
        "network": {"hidden_sizes": [32, 32]},
        "collector": {"frames_per_batch": 64, "total_frames": 320, "init_random_frames": 64},
        "replay_buffer": {"batch_size": 32, "size": 1000},
    })


def filled(config):
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    with torch.no_grad():
        batch = env.rollout(64, algorithm.collector_policy, break_when_any_done=False)
    algorithm.replay_buffer.extend(batch.reshape(-1))
    return algorithm


def one_gradient_step(algorithm):
    """A batch of replayed transitions back into the buffer, and one gradient step after it."""
    algorithm.update(algorithm.replay_buffer.sample(32), frames=64)


def actor_and_critic(algorithm):
    loss = algorithm.loss_module
    actor = [p.detach().clone() for p in loss.actor_network_params.values(True, True)]
    critic = [p.detach().clone() for p in loss.qvalue_network_params.values(True, True)]
    targets = [p.detach().clone() for p in loss.target_qvalue_network_params.values(True, True)]
    return actor, critic, targets


def changed(before, after) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, after))


def test_td3_is_in_the_registry_as_a_continuous_off_policy_algorithm():
    section = ALGORITHMS["td3"]
    assert section.action_kinds == ("continuous",) and not section.on_policy
    assert section.title.startswith("TD3")


def test_trains_a_few_hundred_frames_on_pendulum_with_finite_losses():
    algorithm, before, logged = train_briefly(td3_config())
    assert {"loss_actor", "loss_qvalue"} <= set(logged), logged
    assert changed(before, list(algorithm.loss_module.parameters()))


@pytest.mark.parametrize("delay", [2, 3])
def test_the_actor_and_targets_move_only_every_policy_delay_steps(delay):
    algorithm = filled(td3_config(policy_delay=delay, updates_per_batch=1))
    moved = []
    for _ in range(2 * delay):
        actor, critic, targets = actor_and_critic(algorithm)
        one_gradient_step(algorithm)
        after = actor_and_critic(algorithm)
        assert changed(critic, after[1]), "the critics train on every step"
        moved.append((changed(actor, after[0]), changed(targets, after[2])))
    turns = [(step + 1) % delay == 0 for step in range(2 * delay)]
    assert moved == [(turn, turn) for turn in turns]


def test_a_live_policy_delay_reaches_the_next_steps():
    algorithm = filled(td3_config(policy_delay=2))
    algorithm.apply_hparams(edit(algorithm.config, {"algorithm.policy_delay": 1}, live_only=True))
    for _ in range(3):
        actor = actor_and_critic(algorithm)[0]
        one_gradient_step(algorithm)
        assert changed(actor, actor_and_critic(algorithm)[0])


def test_live_target_noise_and_clip_reach_the_loss_relative_to_the_action_range():
    algorithm = filled(td3_config())
    loss = algorithm.loss_module
    assert loss.policy_noise == pytest.approx(0.2 * 2.0) and loss.noise_clip == pytest.approx(0.5 * 2.0)
    algorithm.apply_hparams(edit(algorithm.config, {"algorithm.target_noise": 0.05,
                                                     "algorithm.noise_clip": 0.1}, live_only=True))
    assert float(loss.policy_noise) == pytest.approx(0.1) and float(loss.noise_clip) == pytest.approx(0.2)
    # With the clip at 0 the smoothing noise is gone: the target value is the same on every call.
    algorithm.apply_hparams(edit(algorithm.config, {"algorithm.noise_clip": 0.0}, live_only=True))
    minibatch = algorithm.replay_buffer.sample(32)
    first = loss.value_loss(minibatch.clone())[1]["target_value"]
    assert torch.equal(first, loss.value_loss(minibatch.clone())[1]["target_value"])


def test_a_resumed_td3_keeps_its_actor_turns():
    running = filled(td3_config(policy_delay=2))
    one_gradient_step(running)  # one critic step: the actor's turn is next
    resumed = build_algorithm(running.config, make_env(running.config), "cpu")
    resumed.load_state_dict(running.state_dict())
    assert resumed.gradient_steps == 1
    resumed.replay_buffer.extend(running.replay_buffer.sample(64))
    actor = actor_and_critic(resumed)[0]
    one_gradient_step(resumed)
    assert changed(actor, actor_and_critic(resumed)[0])
