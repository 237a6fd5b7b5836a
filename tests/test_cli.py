"""The ``tui-rl`` command as a user runs it: real subprocesses, exit codes, messages, run folders."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_until

from tui_rl.cli import main
from tui_rl.config import RunConfig, list_presets, load_file
from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.channel.handle import RunHandle
from tui_rl.engine.runs.folder import is_run_dir, read_summary

def tui_rl(*args, cwd=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "tui_rl.cli", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
    )


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"


def test_help_presets_and_runs_answer_without_loading_torch(runs_dir):
    code = (
        "import sys; from tui_rl.cli import main; "
        f"main(['presets']); main(['runs', '--runs-dir', {str(runs_dir)!r}]); "
        "print('torch loaded:', 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "torch loaded: False" in result.stdout
    assert list_presets()[0].name in result.stdout
    assert tui_rl("--help").returncode == 0


def test_headless_training_prints_a_summary_and_the_run_is_listed(tiny_file, runs_dir):
    # 150 random frames are not a multiple of the 100-frame batch: they are played as two whole
    # batches, without TorchRL's warning that it plays more than asked
    result = tui_rl("train", tiny_file, "--name", "tiny", "--runs-dir", runs_dir,
                    "--set", "collector.init_random_frames=150")
    assert result.returncode == 0, result.stderr
    assert "finished: trained the whole budget of 400 frames" in result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "warning" not in output.lower() and "[torchrl][INFO]" not in output

    listed = json.loads(tui_rl("runs", "--json", "--runs-dir", runs_dir).stdout)
    assert [(r["name"], r["status"], r["frames"]) for r in listed] == [("tiny", "finished", 400)]
    shown = json.loads(tui_rl("runs", "show", "tiny", "--json", "--runs-dir", runs_dir).stdout)
    assert [frames for frames, _ in shown["series"]["eval_return"]] == [200, 400]
    assert "tiny" in tui_rl("runs", "--runs-dir", runs_dir).stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "optim.lr=fast"], "optim.lr: Input should be a valid number"),
        (["--set", "optim.lr=5"], "optim.lr: Input should be less than or equal to 1"),
        (["--set", "optim.speed=1"], "optim.speed: unknown field"),
        (["--set", "optim.lr"], "expected KEY=VALUE"),
        (["--frames", "0"], "--frames: must be a positive number"),
    ],
)
def test_bad_arguments_exit_2_naming_the_field_without_a_traceback(tiny_file, runs_dir, args, message):
    result = tui_rl("train", tiny_file, *args, "--runs-dir", runs_dir)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_an_unknown_preset_exits_2_listing_the_shipped_ones(runs_dir):
    result = tui_rl("train", "cartpole-nothing", "--runs-dir", runs_dir)
    assert result.returncode == 2
    assert "unknown preset 'cartpole-nothing'" in result.stderr and list_presets()[0].name in result.stderr


def test_a_config_that_cannot_be_built_exits_2_and_leaves_no_run_behind(tiny_file, runs_dir):
    result = tui_rl("train", tiny_file, "--set", "env.id=Pendulum-v1", "--runs-dir", runs_dir)
    assert result.returncode == 2
    assert "algorithm.name: dqn needs a discrete action space" in result.stderr
    assert "Traceback" not in result.stderr
    assert not runs_dir.exists()  # refused before any run folder was made


def test_a_run_whose_loss_turns_nan_exits_1_with_the_reason_and_the_run_folder(tiny_file, runs_dir):
    result = tui_rl(
        "train", tiny_file, "--name", "diverges", "--runs-dir", runs_dir, "--frames", "3000",
        "--set", "collector.frames_per_batch=50", "--set", "optim.optimizer=sgd", "--set", "optim.lr=1",
        "--set", "optim.max_grad_norm=0", "--set", "network.hidden_sizes=[256, 256]",
        "--set", "algorithm.updates_per_batch=4",
    )
    assert result.returncode == 1
    assert "run failed: loss_qvalue became nan" in result.stderr
    assert str(runs_dir / "diverges") in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_with_a_checkpoint_and_resume_goes_on_to_a_new_budget(tiny_file, runs_dir):
    command = [sys.executable, "-m", "tui_rl.cli", "train", str(tiny_file), "--name", "interrupted",
               "--runs-dir", str(runs_dir), "--frames", "100000000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = runs_dir / "interrupted"
    wait_until(lambda: is_run_dir(run_dir) and read_summary(run_dir).frames >= 300, what="300 frames trained")
    with RunHandle.attach(run_dir) as watcher:  # a headless run serves its control socket too
        assert watcher.is_live and watcher.history().status == "running"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert f"go on with `tui-rl train --resume interrupted --runs-dir {runs_dir}`" in stderr
    summary = read_summary(run_dir)
    assert (summary.status, summary.reason) == ("stopped", "interrupted (Ctrl-C)")
    assert CheckpointStore(run_dir, 2).latest().name == str(summary.frames)

    budget = summary.frames + 200
    result = tui_rl("train", "--resume", "interrupted", "--frames", budget, "--set", "optim.lr=5e-4",
                    "--runs-dir", runs_dir)
    assert result.returncode == 0, result.stderr
    resumed = read_summary(run_dir)
    assert (resumed.status, resumed.frames) == ("finished", budget)
    assert load_file(run_dir / "config.toml").optim.lr == 5e-4


def test_resume_refuses_fields_that_would_not_fit_the_checkpoint(tiny_file, runs_dir, capsys):
    from tui_rl.engine.runs.record import create_run

    create_run(load_file(tiny_file), name="done", runs_dir=runs_dir)
    summary_file = runs_dir / "done" / "run.json"
    data = json.loads(summary_file.read_text())
    summary_file.write_text(json.dumps({**data, "status": "stopped"}))
    code = main(["train", "--resume", "done", "--set", "network.hidden_sizes=[8]", "--runs-dir", str(runs_dir)])
    assert code == 2
    assert "network.hidden_sizes: not a live-tunable field" in capsys.readouterr().err


def test_presets_show_and_validate(tmp_path, tiny_file, capsys):
    name = list_presets()[0].name
    assert main(["presets", "show", name]) == 0
    shown = tmp_path / "shown.toml"
    shown.write_text(capsys.readouterr().out)
    assert load_file(shown) == load_file(list_presets()[0].path)

    assert main(["presets", "validate", str(tiny_file)]) == 0
    assert "valid (CartPole-v1, dqn)" in capsys.readouterr().out
    assert main(["presets", "validate", name]) == 0  # a shipped preset by name, as `show` takes it
    assert f"{name}: valid" in capsys.readouterr().out

    bad = tmp_path / "bad.toml"
    bad.write_text(tiny_file.read_text().replace("[optim]", "[optim]\nspeed = 3"))
    assert main(["presets", "validate", str(bad)]) == 2
    assert "optim.speed: unknown field" in capsys.readouterr().err

    misfit = tmp_path / "misfit.toml"
    misfit.write_text(tiny_file.read_text().replace('id = "CartPole-v1"', 'id = "Pendulum-v1"'))
    assert main(["presets", "validate", str(misfit)]) == 2
    assert "dqn needs a discrete action space; Pendulum-v1 has a continuous one" in capsys.readouterr().err


def test_output_into_a_closed_pipe_ends_quietly():
    """`tui-rl presets | head -1`: the reader goes away before the table is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_rl.cli", "presets", "show", list_presets()[0].name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    process.stdout.close()
    assert process.wait(timeout=60) == 1
    assert process.stderr.read() == ""


def test_runs_lists_whole_names_in_an_80_column_terminal(tiny_file, runs_dir, capsys, monkeypatch):
    from tui_rl.engine.runs.record import create_run

    monkeypatch.setenv("COLUMNS", "80")
    name = "cartpole-dqn-custom-20261124-201624"  # as the app names a run of a saved preset
    create_run(load_file(tiny_file), name=name, runs_dir=runs_dir, preset="cartpole-dqn-custom.toml")
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    assert name in capsys.readouterr().out


def test_runs_at_80_columns_leaves_out_whole_columns_instead_of_folding_cells(demo_runs, capsys, monkeypatch):
    from tui_rl.engine.runs.record import create_run

    monkeypatch.setenv("COLUMNS", "80")
    names = ["cartpole-dqn-20261125-102420", "cartpole-dqn-20261125-102420-b20480"]  # a run and its branch
    for name in names:
        create_run(RunConfig(), name=name, runs_dir=demo_runs, preset="cartpole-dqn")
    assert main(["runs", "--runs-dir", str(demo_runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "status", "frames", "best", "eval", "last", "eval"]  # no preset
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert sorted(rows) == sorted(["cartpole-fast", "cartpole-slow", "cartpole-failed", *names])  # nothing wrapped
    slow = read_summary(demo_runs / "cartpole-slow")
    assert rows["cartpole-slow"] == ["finished", "40,960", f"{slow.best_eval:.1f}", f"{slow.last_eval:.1f}"]


def test_attach_to_a_run_that_does_not_exist_exits_2(runs_dir, capsys):
    assert main(["attach", "nowhere", "--runs-dir", str(runs_dir)]) == 2
    assert "no run 'nowhere'" in capsys.readouterr().err


def test_without_a_subcommand_the_app_opens_on_a_preset_a_file_or_a_run(tmp_path, tiny_file, runs_dir, monkeypatch):
    import tui_rl.cli.app as cli_app
    import tui_rl.tui.app as app
    from tui_rl.engine.runs.record import create_run

    opened = []
    monkeypatch.setattr(app, "run_app", lambda **kwargs: opened.append(kwargs) or 0)
    monkeypatch.setattr(cli_app, "has_terminal", lambda: True)
    run_dir = create_run(load_file(tiny_file), name="earlier", runs_dir=runs_dir)
    preset = list_presets()[0].name
    assert main([]) == main([preset]) == main([str(tiny_file)]) == 0
    assert main(["earlier", "--runs-dir", str(runs_dir)]) == main(["attach", "earlier", "--runs-dir", str(runs_dir)]) == 0
    assert main(["--runs-dir", str(runs_dir)]) == 0  # options first: still the app, not a subcommand
    assert opened == [
        {"preset": None, "run_dir": None, "runs_dir": Path("runs")},
        {"preset": preset, "run_dir": None, "runs_dir": Path("runs")},
        {"preset": str(tiny_file), "run_dir": None, "runs_dir": Path("runs")},
        {"preset": None, "run_dir": run_dir.resolve(), "runs_dir": runs_dir},
        {"preset": None, "run_dir": run_dir.resolve(), "runs_dir": runs_dir},
        {"preset": None, "run_dir": None, "runs_dir": runs_dir},
    ]
    assert main(["no-such-preset-or-run"]) == 2


def every_action(parser):
    for action in parser._actions:  # argparse keeps its arguments here; there is no public list
        if action.choices and hasattr(action, "_name_parser_map"):
            for sub in action.choices.values():
                yield from every_action(sub)
        else:
            yield parser.prog, action


def test_every_argument_has_help():
    from tui_rl.cli.parsers import app_parser, command_parser

    actions = [*every_action(command_parser()), *every_action(app_parser())]
    missing = [f"{prog} {action.dest}" for prog, action in actions if not action.help]
    assert missing == []
    assert len(actions) > 20
    helps = {(prog, action.dest): action.help for prog, action in actions}
    assert "episodes" in helps[("tui-rl eval", "episodes")]
    assert "run" in helps[("tui-rl attach", "run")]


def test_runs_lists_every_other_run_when_one_run_json_is_damaged(tiny_file, runs_dir, capsys):
    from tui_rl.engine.runs.record import create_run

    create_run(load_file(tiny_file), name="good", runs_dir=runs_dir)
    damaged = create_run(load_file(tiny_file), name="damaged", runs_dir=runs_dir)
    (damaged / "run.json").write_text('{"status": "stopped", "frames": "lots"}')
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "unreadable" in out and "frames: 'lots' is not a whole number" in out
    assert main(["runs", "--json", "--runs-dir", str(runs_dir)]) == 0
    listed = {run["name"]: run for run in json.loads(capsys.readouterr().out)}
    assert listed["good"]["status"] == "starting"
    assert listed["damaged"]["status"] == "unreadable" and "frames" in listed["damaged"]["reason"]
    for command in (["runs", "show", "damaged"], ["train", "--resume", "damaged"], ["attach", "damaged"]):
        assert main([*command, "--runs-dir", str(runs_dir)]) == 2
        err = capsys.readouterr().err
        assert "run.json is damaged" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", str(2**32)], "env.seed: Input should be less than or equal to 4294967295"),
        (["--set", "algorithm.eps_start=0.01"], "algorithm.eps_start: must be at least eps_end"),
        (["--set", "replay_buffer.size=1000000000000"], "replay_buffer.size: Input should be less than"),
        (["--set", "optim.lr=true"], "optim.lr: expected a number, not True"),
        (["--set", "env.kwargs.nope=1"], "env.kwargs.nope: CartPole-v1 does not take nope=1"),
        (["--name", "n" * 300], "--name: 'nnn"),
        (["--name", "two\nlines"], "--name: 'two\\nlines' is not a usable run name"),
        (["--set", "logging.tensorboard=true", "--set", "logging.wandb=true"], "logging."),
    ],
)
def test_config_errors_exit_2_before_any_run_folder_exists(tiny_file, runs_dir, capsys, monkeypatch, args, message):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("tensorboard", "wandb") else find_spec(name, *a))
    assert main(["train", str(tiny_file), *args, "--runs-dir", str(runs_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not runs_dir.exists()


def test_a_runs_dir_that_is_a_file_or_in_proc_exits_2(tiny_file, tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    for runs_dir, message in ((a_file, "is a file, not a folder"), ("/proc", "cannot create runs in /proc")):
        assert main(["train", str(tiny_file), "--runs-dir", str(runs_dir)]) == 2
        assert message in capsys.readouterr().err
    assert main(["runs", "--runs-dir", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "edit_preset, path",
    [
        ("transforms = [{name = 'NoSuchTransform'}]", "unknown transform 'NoSuchTransform'"),
        ("transforms = [{name = 'RewardScaling', params = {loc = 'high'}}]", "transforms.RewardScaling.loc"),
        ("logging = {tensorboard = true}", "pip install 'tui-rl[tensorboard]'"),
        ("env = {id = 'CartPole-v1', kwargs = {gravity = 3}}", "env.kwargs.gravity"),
        ("env = {id = 'NoSuchEnv-v0'}", "env.id: cannot make 'NoSuchEnv-v0'"),
        ("transforms = [{name = 'CatFrames', params = {N = 2, dim = -5}}]", "transforms.0: CatFrames does not fit"),
        ("transforms = [{name = 'StepCounter', params = {step_count_key = ''}}]", "transforms.0: StepCounter"),
        ("transforms = [{name = 'StepCounter'}, {name = 'RewardSum', params = {in_keys = ['nope']}}]",
         "transforms.1: RewardSum does not fit CartPole-v1"),
    ],
)
def test_presets_validate_refuses_what_train_would_refuse(tmp_path, capsys, monkeypatch, edit_preset, path):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else find_spec(name, *a))
    preset = tmp_path / "preset.toml"
    preset.write_text(f'description = "x"\n{edit_preset}\n')
    assert main(["presets", "validate", str(preset)]) == 2
    err = capsys.readouterr().err
    assert path in err and "Traceback" not in err


def test_a_replay_buffer_larger_than_memory_is_refused_saying_how_many_fit(tiny_file, capsys, monkeypatch):
    import tui_rl.engine.run.preflight as preflight

    monkeypatch.setattr(preflight, "memory_bytes", lambda device: 1_000_000)
    assert main(["presets", "validate", str(tiny_file)]) == 2
    err = capsys.readouterr().err
    assert "replay_buffer.size: 100,000 transitions of" in err and "holds at most" in err


def test_the_app_without_a_terminal_says_so_and_exits_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tui_rl.cli", "--runs-dir", str(tmp_path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "the app needs a terminal" in result.stderr and "\x1b[" not in result.stdout


def test_eval_on_a_damaged_checkpoint_exits_1_with_the_reason(tiny_file, runs_dir, capsys):
    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.envs.making import make_env
    from tui_rl.engine.runs.record import create_run

    config = load_file(tiny_file)
    run_dir = create_run(config, name="damaged", runs_dir=runs_dir)
    env = make_env(config)
    checkpoint = CheckpointStore(run_dir, 2).save(100, {"algorithm": build_algorithm(config, env, "cpu")}, {"frames": 100})
    env.close()
    for path in checkpoint.rglob("*.pt"):
        path.write_bytes(b"not a tensor file")
    assert main(["eval", "damaged", "--episodes", "1", "--runs-dir", str(runs_dir)]) == 1
    err = capsys.readouterr().err
    assert "cannot evaluate damaged" in err and "Traceback" not in err
    assert main(["eval", "damaged", "--episodes", "0", "--runs-dir", str(runs_dir)]) == 2


def test_json_output_stays_strict_json_when_values_are_not_finite(tiny_file, runs_dir, capsys):
    from tui_rl.engine.runs.folder import SCALARS_DIR
    from tui_rl.engine.runs.record import create_run

    run_dir = create_run(load_file(tiny_file), name="diverged", runs_dir=runs_dir)
    data = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**data, "best_eval": float("nan"), "last_eval": float("inf")}))
    (run_dir / SCALARS_DIR).mkdir(parents=True)
    (run_dir / SCALARS_DIR / "loss.csv").write_text("100,0.5\n200,inf\n300,nan\n")
    assert main(["runs", "show", "diverged", "--json", "--runs-dir", str(runs_dir)]) == 0
    shown = json.loads(capsys.readouterr().out, parse_constant=lambda token: pytest.fail(f"{token} is not JSON"))
    assert shown["best_eval"] is None and shown["series"]["loss"] == [[100, 0.5], [200, None], [300, None]]
    assert main(["runs", "--json", "--runs-dir", str(runs_dir)]) == 0
    assert json.loads(capsys.readouterr().out, parse_constant=lambda token: pytest.fail(token))[0]["last_eval"] is None


def test_the_progress_line_shows_every_number_and_the_clock_at_80_columns():
    import io

    from rich.console import Console

    from tui_rl.cli.progress import TrainingProgress

    console = Console(width=80, file=io.StringIO(), record=True, force_terminal=True)
    progress = TrainingProgress(console)
    progress.start(100_000)
    progress.progress.update(progress.task, completed=54_321, fps="12,345", ret="-123.4", eval="-150.2",
                             description="running")
    console.print(progress.progress.get_renderable())
    line = console.export_text().rstrip("\n")
    assert len(line) <= 80 and "…" not in line
    for shown in ("running", "54,321/100,000", "12,345 fps", "return -123.4", "eval -150.2", "0:00:00"):
        assert shown in line


def test_a_python_warning_prints_as_one_line_above_the_progress_bar():
    import io

    from rich.console import Console

    from tui_rl.cli.progress import TrainingProgress

    console = Console(width=80, file=io.StringIO(), record=True)
    TrainingProgress(console).warn(UserWarning("something odd,\n  said on two lines"), UserWarning, "x.py", 1)
    assert console.export_text() == "warning: something odd, said on two lines\n"


def test_a_run_whose_checkpoints_are_all_damaged_says_so_and_trains_again_from_scratch(tiny_file, runs_dir):
    assert tui_rl("train", tiny_file, "--name", "broken", "--runs-dir", runs_dir).returncode == 0
    run_dir = runs_dir / "broken"
    for path in (run_dir / "checkpoints").rglob("*.pt"):
        path.write_bytes(b"not a tensor file")

    resumed = tui_rl("train", "--resume", "broken", "--frames", "600", "--runs-dir", runs_dir)
    assert resumed.returncode == 1
    assert "--from-scratch" in resumed.stderr + resumed.stdout and "Traceback" not in resumed.stderr
    assert read_summary(run_dir).frames == 400  # the history is kept as it was

    assert tui_rl("train", "--from-scratch", "--runs-dir", runs_dir).returncode == 2
    again = tui_rl("train", "--resume", "broken", "--from-scratch", "--frames", "600", "--runs-dir", runs_dir)
    assert again.returncode == 0, again.stderr
    summary = read_summary(run_dir)
    assert (summary.status, summary.frames) == ("finished", 600)
