"""The run config: presets load, bad input is refused with a message naming the field."""

from pathlib import Path

import pytest

from tui_rl.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    edit,
    live_fields,
    load_file,
    load_preset,
    parse_value,
    save_file,
    to_toml,
    validate,
)
from tui_rl.config.presets import name_problem


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


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"optim.lr": True}, "optim.lr", "expected a number, not True"),
        ({"replay_buffer.batch_size": False}, "replay_buffer.batch_size", "expected a number"),
        ({"network.hidden_sizes": [64, True]}, "network.hidden_sizes", "expected a number"),
        ({"algorithm.gamma": True}, "algorithm.gamma", "expected a number"),
        ({"algorithm.double_dqn": 1}, "algorithm.double_dqn", "expected true or false"),
        ({"eval.target_return": float("nan")}, "eval.target_return", "finite number"),
        ({"optim.max_grad_norm": float("inf")}, "optim.max_grad_norm", "finite number"),
        ({"env.seed": 2**32}, "env.seed", "less than or equal to 4294967295"),
        ({"replay_buffer.size": 10**12}, "replay_buffer.size", "less than or equal to 100000000"),
        ({"algorithm.eps_start": 0.01}, "algorithm.eps_start", "must be at least eps_end (0.05)"),
        ({"env.kwargs": {"g": float("nan")}}, "env.kwargs.g", "finite number, not nan"),
        ({"env.kwargs.g": [1.0, [float("inf")]]}, "env.kwargs.g", "finite number, not inf"),
        ({"env.kwargs.g": None}, "env.kwargs.g", "TOML has no null"),
        ({"env.kwargs.deep": [[[[[[[[[[1]]]]]]]]]]}, "env.kwargs.deep", "nested more than"),
        ({"transforms": [{"name": "RewardScaling", "params": {"loc": float("nan")}}]},
         "transforms.0.params.loc", "finite number"),
        ({"optim.speed": 1}, "optim.speed", "unknown field"),
    ],
)
def test_refused_values_carry_the_dotted_path_of_the_field(changes, path, message):
    with pytest.raises(ConfigError) as error:
        edit(RunConfig(), changes)
    assert [e.path for e in error.value.errors] == [path]
    assert message in error.value.errors[0].message


def test_a_config_with_nan_never_reaches_a_saved_file(tmp_path: Path):
    config = RunConfig()
    with pytest.raises(ConfigError):
        edit(config, {"transforms": [{"name": "RewardScaling", "params": {"loc": float("nan")}}]})
    save_file(config, tmp_path / "saved.toml")
    config.env.kwargs = {"g": float("nan")}  # validates the section only, which takes any kwargs
    with pytest.raises(ConfigError) as error:
        save_file(config, tmp_path / "saved.toml")
    assert [e.path for e in error.value.errors] == ["env.kwargs.g"]
    assert load_file(tmp_path / "saved.toml") == RunConfig()  # the file saved before is intact


def test_logging_csv_is_retired_and_old_files_saying_it_still_load(tmp_path: Path):
    assert "csv" not in type(RunConfig().logging).model_fields
    old = tmp_path / "old.toml"
    old.write_text("[logging]\ncsv = true\ntensorboard = false\n")
    assert load_file(old).logging == RunConfig().logging
    assert "csv" not in to_toml(load_file(old))


@pytest.mark.parametrize(
    "content, message",
    [
        (b'description = "caf\xe9"\n', "not UTF-8"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b"[env]\nkwargs = " + b"{a = " * 3000 + b"1" + b"}" * 3000, "nested too deeply"),
    ],
)
def test_unreadable_preset_files_are_config_errors(tmp_path: Path, content, message):
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_file(path)


@pytest.mark.parametrize("text", ["[" * 5000, "1\nx = 2"])
def test_parse_value_reads_one_value_or_keeps_the_text(text):
    assert parse_value(text) == text


@pytest.mark.parametrize("name", ["x" * 101, "a\nb", "a\tb", "esc\x1b[2J", "a/b", ".", ""])
def test_unusable_names_are_named(name):
    assert name_problem(name)


def test_usable_names_pass():
    assert name_problem("cartpole dqn-é_2.v1") is None
