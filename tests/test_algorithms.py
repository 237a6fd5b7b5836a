"""Each algorithm trains on its env with a plain TorchRL Collector; live hyperparameters take effect."""


import pytest
import torch
from helpers import one_batch, train_briefly
from tensordict import TensorDict

from tui_rl.config import ConfigError, validate
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.algorithms.replay import make_replay_buffer
from tui_rl.engine.envs.making import make_env

torch.set_num_threads(1)

CASES = [
    ("dqn", "CartPole-v1", {}, {"epsilon"}),
    ("dqn", "CartPole-v1", {"replay_buffer": {"sampler": "prioritized", "batch_size": 16},
                            "algorithm": {"name": "dqn", "target_update": "hard"}}, {"epsilon"}),
    ("ppo", "CartPole-v1", {}, {"loss_objective", "loss_critic", "loss_entropy", "entropy"}),
    ("ppo", "Pendulum-v1", {}, {"loss_objective", "loss_critic", "entropy"}),
    ("a2c", "CartPole-v1", {}, {"loss_objective", "loss_critic", "entropy"}),
    ("a2c", "Pendulum-v1", {"algorithm": {"name": "a2c", "entropy_coef": 0.0}}, {"loss_entropy", "entropy"}),
    ("ddpg", "Pendulum-v1", {}, {"loss_actor", "loss_value"}),
    ("ddpg", "Pendulum-v1", {"algorithm": {"name": "ddpg", "noise": "ou"}}, {"loss_actor"}),
    ("sac", "Pendulum-v1", {}, {"loss_actor", "loss_qvalue", "loss_alpha", "alpha", "entropy"}),
    ("sac-discrete", "CartPole-v1", {}, {"loss_actor", "loss_qvalue", "loss_alpha", "alpha", "entropy"}),
    # with a memory core: DRQN on slices, PPO / A2C on runs of steps (continuous actions too)
    ("dqn", "CartPole-v1", {"network": {"hidden_sizes": [32], "recurrent": "gru", "recurrent_size": 16},
                            "replay_buffer": {"sampler": "slice", "slice_len": 8, "batch_size": 32}}, {"epsilon"}),
    ("ppo", "Pendulum-v1", {"network": {"hidden_sizes": [32], "recurrent": "lstm", "recurrent_size": 16}},
     {"loss_objective", "loss_critic", "entropy"}),
    ("a2c", "CartPole-v1", {"network": {"hidden_sizes": [32], "recurrent": "lstm", "recurrent_size": 16}},
     {"loss_objective", "loss_critic", "entropy"}),
]


def make_config(name, env_id, extra=None, num_envs=2):
    data = {
        "env": {"id": env_id, "num_envs": num_envs},
        "algorithm": {"name": name},
        "network": {"hidden_sizes": [32, 32]},
        "collector": {"frames_per_batch": 64, "total_frames": 320, "init_random_frames": 64},
        "replay_buffer": {"batch_size": 32, "size": 1000},
    }
    data.update(extra or {})
    return validate(data)


@pytest.mark.parametrize("name, env_id, extra, expected", CASES, ids=lambda c: str(c)[:20])
def test_trains_a_few_hundred_frames_with_finite_losses(name, env_id, extra, expected):
    algorithm, before, logged = train_briefly(make_config(name, env_id, extra))
    assert expected <= set(logged), logged
    assert any(key.startswith("loss_") for key in logged)
    after = list(algorithm.loss_module.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), "no parameter was trained"


def test_epsilon_follows_the_frame_count_so_a_resumed_run_picks_up_its_schedule():
    config = make_config("dqn", "CartPole-v1", {"algorithm": {"name": "dqn", "eps_start": 1.0, "eps_end": 0.1,
                                                              "eps_decay_frames": 1000}})
    env = make_env(config)
    running = build_algorithm(config, env, "cpu")
    for frames in range(100, 701, 100):
        epsilon = running.anneal_epsilon(frames)
    assert epsilon == pytest.approx(1.0 - 0.9 * 0.7, abs=1e-4)
    # A run resumed at 700 frames builds a fresh algorithm: its first batch brings epsilon to the same place.
    resumed = build_algorithm(config, env, "cpu")
    assert resumed.anneal_epsilon(700) == pytest.approx(epsilon, abs=1e-4)
    assert resumed.exploration.eps.item() == pytest.approx(epsilon, abs=1e-4)
    assert build_algorithm(config, env, "cpu").anneal_epsilon(50_000) == pytest.approx(0.1)


def test_state_dict_restores_networks_targets_and_optimiser():
    config = make_config("sac", "Pendulum-v1")
    env = make_env(config)
    trained = build_algorithm(config, env, "cpu")
    batch = env.rollout(64, trained.collector_policy, break_when_any_done=False).detach()
    trained.update(batch, frames=128)
    fresh = build_algorithm(config, env, "cpu")
    fresh.load_state_dict(trained.state_dict())
    for (name, a), b in zip(trained.loss_module.state_dict().items(), fresh.loss_module.state_dict().values()):
        assert torch.equal(a, b), name
    assert fresh.optimizer.state_dict()["state"].keys() == trained.optimizer.state_dict()["state"].keys()


@pytest.mark.parametrize("name, env_id", [("dqn", "Pendulum-v1"), ("sac", "CartPole-v1"), ("sac-discrete", "Pendulum-v1")])
def test_algorithm_that_does_not_fit_the_action_space_is_a_config_error(name, env_id):
    config = make_config(name, env_id)
    with pytest.raises(ConfigError, match=f"algorithm.name: {name} needs a") as error:
        build_algorithm(config, make_env(config), "cpu")
    assert env_id in str(error.value) and "choose one of" in str(error.value)


def test_prioritized_replay_samples_high_priority_transitions_more_and_weights_them_less():
    config = make_config("dqn", "CartPole-v1", {"replay_buffer": {"sampler": "prioritized", "size": 100,
                                                                   "batch_size": 8, "alpha": 1.0, "beta": 1.0}})
    buffer = make_replay_buffer(config.replay_buffer, "cpu")
    buffer.extend(TensorDict(value=torch.arange(100.0), batch_size=[100]))
    first = buffer.sample(8)
    first.set("td_error", torch.where(first["value"] == first["value"][0], 500.0, 0.01))
    buffer.update_tensordict_priority(first)
    favoured = first["value"][0].item()
    draws = buffer.sample(2000)
    share = (draws["value"] == favoured).float().mean().item()
    assert share > 0.7, f"a transition with most of the priority mass was drawn {share:.0%} of the time"
    weights = draws["priority_weight"]
    assert weights[draws["value"] == favoured].max() < weights[draws["value"] != favoured].min()


def test_soft_target_update_moves_targets_by_tau_and_hard_update_copies_on_its_period():
    config = make_config("ddpg", "Pendulum-v1")
    soft = build_algorithm(config, make_env(config), "cpu")
    loss = soft.loss_module
    source = next(iter(loss.value_network_params.values(True, True)))
    target = next(iter(loss.target_value_network_params.values(True, True)))
    with torch.no_grad():
        source.add_(1.0)
    before = target.clone()
    soft.target_updater.step()
    assert torch.allclose(target, before + 0.005 * (source.data - before))

    config = make_config("dqn", "CartPole-v1", {"algorithm": {"name": "dqn", "target_update": "hard",
                                                              "hard_update_period": 3}})
    hard = build_algorithm(config, make_env(config), "cpu")
    source = next(iter(hard.loss_module.value_network_params.values(True, True)))
    target = next(iter(hard.loss_module.target_value_network_params.values(True, True)))
    with torch.no_grad():
        source.add_(1.0)
    hard.target_updater.step()
    hard.target_updater.step()
    assert not torch.equal(target, source.data), "copied before its period"
    hard.target_updater.step()
    assert torch.equal(target, source.data)


def test_advantages_come_from_one_critic_pass_and_keep_every_step_where_episodes_are_cut_short():
    # CartPole cut at 5 steps: each env copy's 32 steps hold several truncations (and a few falls)
    config = make_config("ppo", "CartPole-v1", {"env": {"id": "CartPole-v1", "num_envs": 2,
                                                        "kwargs": {"max_episode_steps": 5}}})
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    from torchrl.objectives.value import GAE

    from tui_rl.engine.algorithms.on_policy import advantages

    batch = one_batch(env, algorithm.collector_policy, 64)
    cut = batch["next", "truncated"].squeeze(-1)[:, :-1]
    assert cut.sum(-1).min() >= 2, "each copy has episodes cut short inside the batch"
    calls = []
    algorithm.critic.register_forward_hook(lambda module, args, out: calls.append(out.shape))
    twice = batch.clone()
    with torch.no_grad():  # the critic on the steps and on their next steps apart
        GAE(gamma=algorithm.value_estimator.gamma, lmbda=algorithm.value_estimator.lmbda,
            value_network=algorithm.critic)(twice)
    calls.clear()
    advantages(algorithm.value_estimator, batch)
    assert len(calls) == 1 and calls[0][-1] < 2 * batch.shape[-1], calls  # one pass, not over both
    assert "shifted_valid" not in batch.keys()
    for key in ["advantage", "value_target", "state_value", ("next", "state_value")]:
        torch.testing.assert_close(batch[key], twice[key], msg=str(key))
    env.close()
