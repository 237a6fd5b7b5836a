"""The run config: presets load, bad input is refused with a message naming the field."""

from pathlib import Path

import pytest

from tui_rl.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    live_fields,
    load_file,
    load_preset,
    save_file,
    validate,
)


def test_defaults_are_the_seed_dqn_on_cartpole():
    config = RunConfig()
    assert config.env.id == "CartPole-v1"
    assert config.algorithm.name == "dqn"


def test_overrides_parse_like_toml_values():
    config = apply_overrides(
        RunConfig(), ["optim.lr=3e-4", "network.hidden_sizes=[32, 32]", "algorithm.double_dqn=false"]
    )
    assert config.optim.lr == pytest.approx(3e-4)
    assert config.network.hidden_sizes == [32, 32]
    assert config.algorithm.double_dqn is False


def test_switching_algorithm_takes_its_defaults_then_its_fields():
    config = apply_overrides(RunConfig(), ["algorithm.name=ppo", "algorithm.clip_epsilon=0.1"])
    assert config.algorithm.name == "ppo"
    assert config.algorithm.clip_epsilon == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("optim.lr=abc", "optim.lr"),
        ("optim.lr=-1", "optim.lr"),
        ("replay_buffer.batch_size=0", "replay_buffer.batch_size"),
        ("optim.nope=1", "optim.nope"),
        ("nosection.x=1", "nosection"),
        ("algorithm.name=xyz", "algorithm"),
        ("device=tpu", "device"),
        ("lr", "KEY=VALUE"),
    ],
)
def test_bad_override_names_the_field(override, named):
    with pytest.raises(ConfigError) as error:
        apply_overrides(RunConfig(), [override])
    assert named in str(error.value)


def test_env_kwargs_accept_new_keys():
    config = apply_overrides(RunConfig(), ["env.kwargs.g=9.0"])
    assert config.env.kwargs == {"g": 9.0}


def test_unknown_field_in_a_file_is_named(tmp_path: Path):
    path = tmp_path / "typo.toml"
    path.write_text('[optim]\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError, match=r"optim\.learning_rate: unknown field"):
        load_file(path)


def test_broken_toml_is_a_config_error(tmp_path: Path):
    path = tmp_path / "broken.toml"
    path.write_text("[optim\nlr = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_file(path)


def test_unknown_preset_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="cartpole-dqn"):
        load_preset("no-such-preset")


def test_save_then_load_round_trips(tmp_path: Path):
    config = apply_overrides(RunConfig(), ["algorithm.name=sac", "env.id=Pendulum-v1", "optim.max_grad_norm=0", "eval.target_return=-200"])
    save_file(config, tmp_path / "mine.toml")
    assert load_file(tmp_path / "mine.toml") == config


def test_live_fields_follow_the_algorithm():
    dqn = live_fields(RunConfig())
    ppo = live_fields(validate({"algorithm": {"name": "ppo"}}))
    assert "algorithm.eps_end" in dqn and "algorithm.eps_end" not in ppo
    assert "algorithm.entropy_coef" in ppo
    assert "replay_buffer.batch_size" not in ppo  # PPO has no replay buffer
    assert {"optim.lr", "replay_buffer.batch_size"} <= dqn.keys()
    assert "env.id" not in dqn
