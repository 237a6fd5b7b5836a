"""Switching algorithm keeps what was tuned: a section comes back as it was left, shared fields
carry over to an algorithm not used yet, and the changes are said in words."""

from __future__ import annotations

import pytest

from tui_rl.config import ConfigError, load_preset
from tui_rl.config.algorithm_switch import switch_algorithm
from tui_rl.config.algorithms import A2CConfig, PPOConfig, SACConfig


def test_a_new_algorithm_starts_from_defaults_with_the_shared_fields_carried_over():
    dqn = load_preset("cartpole-dqn")  # gamma 0.98, updates_per_batch 32, hard target updates
    switched, changes = switch_algorithm(dqn, "sac", {})
    assert switched.algorithm.name == "sac"
    assert switched.algorithm.gamma == 0.98
    assert switched.algorithm.updates_per_batch == 32
    assert switched.algorithm.alpha_init == SACConfig().alpha_init  # SAC's own: its default
    assert switched.optim == dqn.optim and switched.env == dqn.env  # other sections untouched
    assert changes[0] == "Algorithm DQN → SAC: SAC starts from its defaults"
    assert "kept from DQN: gamma 0.98, updates_per_batch 32" in changes
    assert "DQN's own values are kept for a switch back" in changes


def test_switching_back_restores_the_section_as_it_was_left():
    dqn = load_preset("cartpole-dqn")
    remembered = {"dqn": dqn.algorithm}
    ppo, _ = switch_algorithm(dqn, "ppo", remembered)
    ppo = ppo.model_copy(update={"algorithm": ppo.algorithm.model_copy(update={"gamma": 0.9})})
    remembered["ppo"] = ppo.algorithm

    back, changes = switch_algorithm(ppo, "dqn", remembered)
    assert back.algorithm == dqn.algorithm  # target_update "hard", eps_end 0.04, ... all back
    assert back == dqn
    assert changes == [
        "Algorithm PPO → DQN: DQN's values are back as last set",
        "gamma 0.9 → 0.98",
        "PPO's own values are kept for a switch back",
    ]

    again, changes = switch_algorithm(back, "ppo", remembered)
    assert again.algorithm == ppo.algorithm  # PPO's own edit survives the round trip too
    assert changes[0] == "Algorithm DQN → PPO: PPO's values are back as last set"


def test_a_shared_value_the_new_algorithm_does_not_allow_keeps_its_default():
    ppo = load_preset("cartpole-ppo")  # gae_lambda 0.95 and entropy_coef 0, where A2C has 1 and 0.01
    switched, changes = switch_algorithm(ppo, "a2c", {})
    assert (switched.algorithm.gae_lambda, switched.algorithm.entropy_coef) == (0.95, 0.0)
    assert "kept from PPO: gae_lambda 0.95, entropy_coef 0" in changes

    out_of_bounds = PPOConfig.model_construct(**{**ppo.algorithm.model_dump(), "gamma": 5.0})
    switched, changes = switch_algorithm(ppo.model_copy(update={"algorithm": out_of_bounds}), "a2c", {})
    assert switched.algorithm.gamma == A2CConfig().gamma
    assert not any("gamma" in change for change in changes)


def test_staying_on_the_same_algorithm_changes_nothing():
    dqn = load_preset("cartpole-dqn")
    assert switch_algorithm(dqn, "dqn", {"dqn": load_preset("acrobot-dqn").algorithm}) == (dqn, [])


def test_an_unknown_algorithm_is_an_error_naming_the_field():
    with pytest.raises(ConfigError) as caught:
        switch_algorithm(load_preset("cartpole-dqn"), "trpo", {})
    assert caught.value.errors[0].path == "algorithm.name"
    assert "trpo" in caught.value.errors[0].message
