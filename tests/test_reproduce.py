"""The line that sets a run up again: `tui-rl runs show RUN` prints it, running it gives the same
config, and live changes follow it as comments with their frame counts."""

from __future__ import annotations

import shlex

import pytest
from conftest import TINY_DQN, train_run

from tui_rl.cli import main
from tui_rl.config import apply_overrides, load_preset
from tui_rl.engine.protocol import SetHparams
from tui_rl.engine.runs.reproduce import reproduce_text, set_value, toml_value
from tui_rl.engine.runs.folder import read_config
from tui_rl.engine.runs.record import create_run

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


def plant_injections(run_dir, marker) -> None:
    """What a crafted run folder may hold: a newline and a command in run.json's preset, in a live
    edit's key in events.jsonl, escape sequences (an OSC 52 clipboard write, a screen clear) in the
    reason and in a metric file's name."""
    import json

    summary = json.loads((run_dir / "run.json").read_text())
    summary["preset"] = f"gone\ntouch {marker}-preset"
    summary["reason"] = "\x1b]52;c;dG91Y2ggcHduZWQ=\x07\x1b[2J"
    (run_dir / "run.json").write_text(json.dumps(summary))
    edit = {"type": "HparamsChanged", "seq": 1, "frames": 64, "time": 0.0,
            "changes": {f"optim.lr\ntouch {marker}-key\n#": 0.1}, "previous": {}}
    (run_dir / "events.jsonl").write_text(json.dumps(edit) + "\n")
    (run_dir / "metrics" / "scalars").mkdir(parents=True)
    (run_dir / "metrics" / "scalars" / "loss\x1b[2J.csv").write_text("64,1.0\n")


def test_a_crafted_run_folder_cannot_inject_commands_or_escape_sequences(runs_dir, tmp_path, capsys):
    import subprocess

    run_dir = create_run(apply_overrides(load_preset("cartpole-dqn"), TINY_DQN), name="crafted", runs_dir=runs_dir)
    marker = tmp_path / "pwned"
    plant_injections(run_dir, marker)
    assert main(["runs", "show", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    text = reproduce_text(run_dir)
    assert all(line.startswith("#") for line in text.splitlines()[1:])
    # pasted into a shell (tui-rl stubbed out): nothing but the one line runs
    subprocess.run(["bash", "-c", "tui-rl() { :; }\n" + text], cwd=tmp_path, check=True)
    assert not list(tmp_path.glob("pwned*"))


def test_resume_hints_quote_the_run_name(runs_dir, tmp_path):
    import json
    import subprocess

    from tui_rl.engine.runs.folder import read_summary

    name = "odd; touch pwned"
    run_dir = create_run(apply_overrides(load_preset("cartpole-dqn"), TINY_DQN), name=name, runs_dir=runs_dir)
    from tui_rl.engine.runs import liveness

    liveness.release(run_dir)  # the trainer is gone: run.json still says starting
    summary = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**summary, "pid": 2**22}))
    hint = read_summary(run_dir).reason.split("`")[1]
    assert shlex.split(hint) == ["tui-rl", "train", "--resume", name]
    subprocess.run(["bash", "-c", f"tui-rl() {{ :; }}\n{hint}"], cwd=tmp_path, check=True)
    assert not (tmp_path / "pwned").exists()
