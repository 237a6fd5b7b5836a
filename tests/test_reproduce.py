"""The line that sets a run up again: `tui-rl runs show RUN` prints it, running it gives the same
config, and live changes follow it as comments with their frame counts."""

from __future__ import annotations

import shlex

import pytest
from conftest import TINY_DQN, train_run

from tui_rl.cli import main
from tui_rl.config import apply_overrides, load_preset
from tui_rl.engine.protocol import SetHparams
from tui_rl.engine.reproduce import reproduce_text, set_value, toml_value
from tui_rl.engine.runfolder import read_config
from tui_rl.engine.run_record import create_run

#: a setup far from its preset: another algorithm, a transform stack, env kwargs, a seed
SETUP = TINY_DQN + [
    "algorithm.name=dqn", "env.seed=11", "optim.lr=0.0005", "env.kwargs={sutton_barto_reward = true}",
    "transforms=[{name = \"StepCounter\"}, {name = \"RewardSum\"}]", "description=\"a 'quoted' run\"",
]


def printed_line(capsys, run_dir) -> tuple[str, list[str]]:
    assert main(["runs", "show", str(run_dir)]) == 0
    out = capsys.readouterr().out
    text = out[out.index("tui-rl train "):]
    line, *comments = text.strip().splitlines()
    return line, comments


def test_running_the_printed_line_sets_up_the_same_run(runs_dir, capsys):
    config = apply_overrides(load_preset("cartpole-ppo"), SETUP)
    run_dir = create_run(config, name="original", runs_dir=runs_dir, preset="cartpole-ppo")
    line, comments = printed_line(capsys, run_dir)
    assert line.startswith("tui-rl train cartpole-ppo --set ") and comments == []
    words = shlex.split(line)
    assert main(words[1:] + ["--name", "again", "--runs-dir", str(runs_dir)]) == 0
    again = read_config(runs_dir / "again")
    assert again.model_dump() == config.model_dump()


def test_live_changes_follow_the_line_as_comments_and_are_not_in_it(runs_dir, capsys):
    config = apply_overrides(load_preset("cartpole-dqn"), TINY_DQN)
    run_dir = create_run(config, name="tuned", runs_dir=runs_dir, preset="cartpole-dqn")
    train_run(config, run_dir, before=lambda trainer: trainer.submit(SetHparams({"optim.lr": 0.002})))
    assert read_config(run_dir).optim.lr == 0.002  # the config file holds the value now in force
    line, comments = printed_line(capsys, run_dir)
    assert "optim.lr" not in line  # the run started at the preset's lr
    assert comments[0].startswith("# changed live during the run")
    assert comments[1].startswith("#   at ") and comments[1].endswith(
        f"frames: optim.lr=0.002 (was {set_value(config.optim.lr)})")


def test_a_run_set_up_from_scratch_starts_from_the_default_preset(runs_dir):
    config = apply_overrides(load_preset("pendulum-sac"), ["env.seed=5"])
    run_dir = create_run(config, name="scratch", runs_dir=runs_dir, preset="")
    line = reproduce_text(run_dir)
    assert line.startswith("tui-rl train cartpole-dqn --set algorithm.name=sac ")
    assert "env.id=Pendulum-v1" in line and "env.seed=5" in line


@pytest.mark.parametrize("value", [None, True, 3, 2.5e-4, float("inf"), "it's \"x\"\n", [1, [2]],
                                   {"a b": {"c": "d"}, "e": []}])
def test_values_are_written_as_set_reads_them(value):
    from tui_rl.config.edit import parse_value

    assert parse_value(toml_value(value)) == value == parse_value(set_value(value))
    for text, shown in (("Pendulum-v1", "Pendulum-v1"), ("true", '"true"'), (" x", '" x"'), ("3", '"3"')):
        assert set_value(text) == shown and parse_value(shown) == text
