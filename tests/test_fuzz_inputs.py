"""A seeded campaign of bad input through the real ``tui-rl`` entry point, in this process.

Each run generates the same few hundred inputs (bad presets, bad ``--set`` values, damaged run
folders, bad flags) and runs them through ``tui_rl.cli.main`` with its output captured. Whatever
the input: no exception escapes ``main``, no traceback is printed, the exit code is the documented
one (2 for bad config or arguments; 0 for input that happens to be valid), a refused ``train``
leaves no run folder, and a damaged run folder never stops the others from being listed.
Nothing trains: ``train_headless`` is replaced by a stand-in that records the run folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
from pathlib import Path

import pytest
import tomli_w

import tui_rl.cli.train as cli_train
from tui_rl.cli import main
from tui_rl.config import ConfigError, RunConfig, load_file, to_toml
from tui_rl.engine.runs.folder import EVENTS_FILE, RUN_FILE, SCALARS_DIR, list_runs
from tui_rl.engine.runs.record import create_run

#: fixed, so a run is reproducible; TUI_RL_FUZZ_SEED=N runs another campaign of the same size
SEED = int(os.environ.get("TUI_RL_FUZZ_SEED", "20261125"))
PER_KIND = 125  # inputs of each of the four kinds (and a few listings)

NASTY_VALUES = [
    "text", "", "\x00", "a\nb", "x" * 5000, True, False, -1, 0, 10**30, -(10**30), 2**32, 1e308,
    math.nan, math.inf, -math.inf, [], [1, "a"], {}, {"x": 1}, [[[[[[[[[[[1]]]]]]]]]]],
]
#: values of the right type that still do not fit (a key the env lacks, a dim out of range)
WELL_TYPED = [["nope"], [["next"]], "", "done", -5, 3, 2, [1.0, 2.0, 3.0], 0.5]
TRANSFORMS = ["NoSuch", "RewardScaling", "CatFrames", "ObservationNorm", "StepCounter", "RewardSum",
              "VecNorm", "InitTracker", "ClipTransform", "DoubleToFloat"]
TRANSFORM_PARAMS = ["loc", "scale", "N", "dim", "in_keys", "out_keys", "step_count_key", "init_key", "low", "zzz"]
NASTY_TEXT = [
    "true", "nan", "inf", "-inf", "1e999", "-1", "0", "[1, [2, [3]]]", "{a = 1}", '"quoted"',
    "[" * 3000, "x" * 3000, "1\nx = 2", "\x07", "\udcff", "", "none", "[true]", "{x = nan}",
]


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` with stdout and stderr captured; an exception escaping it fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException as exc:  # noqa: BLE001 - the point: nothing may escape
            raise AssertionError(f"{argv!r} raised {type(exc).__name__}: {exc}") from None
    return code, out.getvalue() + err.getvalue()


def leaf_paths(data: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths.extend(leaf_paths(value, f"{path}.") if isinstance(value, dict) and value else [path])
    return paths


def set_dotted(data: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {}) if isinstance(data.get(part, {}), dict) else {}
    data[last] = value


def bad_preset(rng: random.Random, tmp: Path, index: int) -> Path:
    data = RunConfig().model_dump(mode="json", exclude_none=True)
    kind = rng.randrange(7)
    if kind <= 2:  # wrong types, NaN, huge or negative numbers in a field
        for _ in range(rng.randint(1, 3)):
            set_dotted(data, rng.choice(leaf_paths(data)), rng.choice(NASTY_VALUES))
    elif kind == 3:  # an unknown key somewhere
        section = rng.choice([k for k, v in data.items() if isinstance(v, dict)])
        data[section][rng.choice(["speed", "lr ", "csvv", "ñ", "x.y"])] = rng.choice(NASTY_VALUES)
    elif kind == 4:  # transforms and kwargs nobody can build
        data["transforms"] = [
            {"name": rng.choice(TRANSFORMS),
             "params": {rng.choice(TRANSFORM_PARAMS): rng.choice(NASTY_VALUES + WELL_TYPED)}}
            for _ in range(rng.randint(1, 3))
        ]
        data["env"]["kwargs"] = {rng.choice(["g", "gravity", "render_mode"]): rng.choice(NASTY_VALUES)}
    path = tmp / f"preset-{index}.toml"
    try:
        text = tomli_w.dumps(data).encode()
    except (TypeError, ValueError):
        text = to_toml(RunConfig()).encode()
    if kind == 5:  # bytes that are not UTF-8, or a file cut anywhere
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice([b"\xff\xfe", b"\xc3", b"\x80\x80"]) + text[at:] if rng.random() < 0.5 else text[:at]
    if kind == 6:  # nesting deep enough to exhaust a recursive parser
        depth = rng.choice([50, 2000, 20000])
        text += b"\n[env]\nzzz = " + rng.choice([b"[" * depth + b"]" * depth, b"{a = " * depth + b"1" + b"}" * depth])
    path.write_bytes(text)
    return path


def damaged_bytes(rng: random.Random) -> bytes:
    choices = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))),
        lambda: json.dumps(rng.choice([[], None, 3, "x", [1, {"a": 2}]])).encode(),
        lambda: json.dumps({rng.choice(["status", "frames", "pid", "created", "best_eval", "reason", "host"]):
                            rng.choice(NASTY_VALUES)}).encode(),
        lambda: b"[" * rng.choice([10, 5000, 100000]),
        lambda: b'{"status": "\xff\xfe"}',
        lambda: b"",
    ]
    return rng.choice(choices)()


def damaged_lines(rng: random.Random) -> bytes:
    lines = [
        b'{"type": "StatusChanged", "state": "running", "seq": 1}', b"[1, 2]", b"null", b'"x"',
        b'{"type": "Metrics", "values": {"fps": "fast"}}', b'{"type": 3}', b"\xff\xfe",
        b'{"type": "HparamsChanged", "changes": 5}', b"inf,1", b"nan,nan", b"1e400,2", b"-inf,0",
        b"1,2,3", b"100,1.5", b",", b"x" * 10000, b"[" * 50000,
    ]
    return b"\n".join(rng.choice(lines) for _ in range(rng.randint(1, 8)))


@pytest.fixture
def no_training(monkeypatch):
    """``train`` stops where training would start; the run folders it would train are recorded."""
    started: list[Path] = []
    monkeypatch.setattr(cli_train, "train_headless", lambda run_dir, **kwargs: started.append(run_dir) or 0)
    return started


def test_a_seeded_campaign_of_bad_input_gets_messages_and_the_right_exit_codes(tmp_path, no_training):
    rng = random.Random(SEED)
    tally: dict[str, dict[int, int]] = {}

    def record(kind: str, argv: list[str], allowed: set[int]) -> tuple[int, str]:
        code, output = run_cli(argv)
        assert "Traceback" not in output, (argv, output)
        assert code in allowed, (argv, code, output)
        if code == 2:
            assert output.strip(), argv  # refused with a message, never silently
        tally.setdefault(kind, {}).setdefault(code, 0)
        tally[kind][code] += 1
        return code, output

    # 1. Bad presets through `presets validate` (the same checks as `train`).
    for index in range(PER_KIND):
        path = bad_preset(rng, tmp_path, index)
        code, _ = record("preset", ["presets", "validate", str(path)], {0, 2})
        if code == 0:
            load_file(path)  # said valid: it loads

    # 2. Bad --set values and flags through `train` (nothing trains).
    good = tmp_path / "good.toml"
    good.write_text(to_toml(RunConfig()))
    base = RunConfig().model_dump(mode="json", exclude_none=True)
    for index in range(PER_KIND):
        runs = tmp_path / f"set-runs-{index}"
        key = rng.choice(leaf_paths(base) + ["optim.nope", "nosection.x", "env.kwargs.g", "algorithm.name", "", "."])
        argv = ["train", str(good), "--runs-dir", str(runs), "--set", f"{key}={rng.choice(NASTY_TEXT)}"]
        if rng.random() < 0.3:
            argv += rng.choice([["--seed", str(rng.choice([-1, 2**32, 2**64, 7]))], ["--frames", rng.choice(["0", "-5", "x", "1e3"])],
                                ["--name", rng.choice(["n" * 300, "a\nb", "ok", "\x1b[2J", "a/b"])], ["--set", "optim.lr"]])
        before = len(no_training)
        code, _ = record("--set", argv, {0, 2})
        made = runs.exists() and any(runs.iterdir())
        assert made == (code == 0) == (len(no_training) > before), (argv, code)

    # 3. Damaged run folders beside good ones: listing always works and names the good ones.
    runs = tmp_path / "runs"
    for name in ("alpha", "beta"):
        create_run(RunConfig(), name=name, runs_dir=runs)
    for index in range(PER_KIND):
        target = create_run(RunConfig(), name=f"damaged-{index}", runs_dir=runs)
        part = rng.choice([RUN_FILE, EVENTS_FILE, "metric"])
        if part == "metric":
            (target / SCALARS_DIR).mkdir(parents=True)
            (target / SCALARS_DIR / "episode_return.csv").write_bytes(damaged_lines(rng))
        else:
            (target / part).write_bytes(damaged_bytes(rng) if part == RUN_FILE else damaged_lines(rng))
        shown, _ = record("run folder", ["runs", "show", target.name, "--runs-dir", str(runs)], {0, 2})
        assert shown == 0 or part == RUN_FILE  # only a damaged run.json makes a run unreadable
        record("run folder", ["runs", "show", target.name, "--json", "--runs-dir", str(runs)], {shown})
        if index % 10 == 0:
            _, listed = record("run folder", ["runs", "--runs-dir", str(runs)], {0})
            assert "alpha" in listed and "beta" in listed
    code, listed = record("run folder", ["runs", "--json", "--runs-dir", str(runs)], {0})
    statuses = {run["name"]: run["status"] for run in json.loads(listed)}
    assert len(statuses) == PER_KIND + 2 and statuses["alpha"] == statuses["beta"] == "starting"
    assert len(list_runs(runs)) == PER_KIND + 2

    # 4. Bad flags and arguments for every command.
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    weird = ["", "-", "--", "\udcff", "x" * 5000, "a\x00b", "--nope", "-x", "../../etc", str(a_file), "/proc", "/dev/null"]
    commands = [["train"], ["runs"], ["runs", "show"], ["presets"], ["presets", "show"], ["presets", "validate"],
                ["attach"], ["eval"], []]
    for _ in range(PER_KIND):
        argv = [*rng.choice(commands), *rng.sample(weird, rng.randint(1, 3))]
        if rng.random() < 0.5:
            argv += [rng.choice(["--runs-dir", "--episodes", "--frames", "--seed", "--name", "--json"]), rng.choice(weird + ["-3", "0", "1e9"])]
        record("flags", argv, {0, 2})

    total = sum(sum(codes.values()) for codes in tally.values())
    print(f"\nfuzz seed {SEED}: {total} inputs; exit codes per kind: {tally}")
    assert total >= 4 * PER_KIND
    assert tally["preset"].get(2, 0) >= PER_KIND // 2  # the campaign does reach the refusals
    assert tally["--set"].get(2, 0) >= PER_KIND // 2
    assert tally["flags"].get(2, 0) >= PER_KIND // 2


def test_the_campaign_is_reproducible():
    first, second = random.Random(SEED), random.Random(SEED)
    assert [damaged_bytes(first) for _ in range(20)] == [damaged_bytes(second) for _ in range(20)]


def test_a_preset_the_model_refuses_is_never_called_valid(tmp_path):
    rng = random.Random(SEED + 1)
    refused = 0
    for index in range(30):
        path = bad_preset(rng, tmp_path, index)
        try:
            load_file(path)
        except ConfigError:
            refused += 1
            assert run_cli(["presets", "validate", str(path)])[0] == 2
    assert refused >= 15


#: what a generated campaign (benchmarks/fuzz_cli.py) once saw crash or hang, each now refused up
#: front with a message naming the flag or field; ``{runs}`` is a scratch runs folder
CRASHED_OR_HUNG = [
    (["train", "cartpole-dqn", "--seeds", "0", "1", "--frames", "512", "--parallel", "-1"], "--parallel: must be at least 1"),
    (["train", "cartpole-dqn", "--seeds", "0", "--frames", "512", "--parallel", "0"], "--parallel: must be at least 1"),
    (["train", "cartpole-dqn", "--frames", "512", "--parallel", "2"], "--parallel goes with --seeds"),
    (["search", "cartpole-dqn", "--trials", "1", "--param", "optim.lr=loguniform(1," + "9" * 400 + ")"],
     "optim.lr: --param: loguniform() takes two finite numbers"),
    (["search", "cartpole-dqn", "--trials", "1", "--seed", "-1"], "--seed: must be 0 to 4294967295"),
    (["search", "cartpole-dqn", "--trials", "1", "--seed", "1099511627776"], "--seed: must be 0 to"),
    (["search", "cartpole-dqn", "--trials", "1", "--seed", "18446744073709551616"], "--seed: must be 0 to"),
    (["search", "cartpole-dqn", "--trials", "1", "--workers", "2", "--seed", "4294967295"], "--seed: must be 0 to 4294967294"),
    (["search", "--study", "nosuch", "--trials", "1"], "--study: there is no study 'nosuch'"),
    (["search", "cartpole-dqn", "--trials", "1", "--runs-dir", "/proc"], "--runs-dir: cannot use the studies in /proc"),
    (["search", "cartpole-dqn", "--trials", "1", "--workers", "1000000"], "--workers: must be 1 to 256"),
    (["search", "cartpole-dqn", "--trials", "10000000000"], "--trials: must be 1 to 100,000"),
    (["search", "cartpole-dqn", "--trials", "1", "--evals", "1099511627776"], "--evals: must be 1 to 1,000"),
    (["train", "acrobot-dqn", "--set", "collector.frames_per_batch=1000000", "--frames", "512"],
     "collector.frames_per_batch: 1,000,000 frames per batch exceed the whole budget"),
    (["train", "cartpole-a2c", "--set", "collector.frames_per_batch=1000000", "--frames", "512"],
     "collector.frames_per_batch: 1,000,000 frames per batch exceed"),
    (["train", "pendulum-sac", "--set", "env.num_envs=4096", "--frames", "512"], "env.num_envs: 4,096 env copies"),
    (["train", "pendulum-sac", "--set", "env.num_envs=4096", "--set", "env.backend=gymnasium", "--frames", "512"],
     "env.num_envs"),
    (["train", "cartpole-dqn", "--frames", "99999999999999999999999"], "--frames: must be a positive number of frames, at most"),
    (["train", "cartpole-dqn", "--frames", "9223372036854775808"], "--frames: must be a positive number of frames, at most"),
    (["eval", "some-run", "--episodes", "1000000000000"], "--episodes: must be 1 to 10,000"),
    (["presets", "validate", "{catframes}"], "transforms.CatFrames.N: must be at most 64"),
    (["presets", "validate", "{catframes_stacked}"], "transforms.1: the CatFrames of the stack take 4,096 frames"),
    (["presets", "validate", "{stepcounters}"], "transforms: List should have at most 16 items"),
    (["presets", "validate", "{spec_readers}"], "transforms.4: a stack takes at most 4 of StepCounter"),
]


def preset_with(tmp_path: Path, name: str, transforms: list[dict]) -> str:
    data = RunConfig().model_dump(mode="json", exclude_none=True)
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps({**data, "transforms": transforms}))
    return str(path)


@pytest.mark.parametrize(("argv", "message"), CRASHED_OR_HUNG, ids=[" ".join(a)[:60] for a, _ in CRASHED_OR_HUNG])
def test_input_that_once_crashed_or_hung_is_refused_at_once_with_a_message(argv, message, tmp_path, no_training):
    runs = tmp_path / "runs"
    files = {
        "catframes": preset_with(tmp_path, "catframes", [{"name": "CatFrames", "params": {"N": 10**8}}]),
        "catframes_stacked": preset_with(tmp_path, "stacked", [{"name": "CatFrames", "params": {"N": 64}}] * 2),
        "stepcounters": preset_with(tmp_path, "counters", [{"name": "StepCounter"}] * 40),
        "spec_readers": preset_with(tmp_path, "readers", [{"name": "StepCounter"}, {"name": "RewardSum"},
                                                          {"name": "InitTracker"}, {"name": "VecNorm"},
                                                          {"name": "ClipTransform", "params": {"low": -5.0}}]),
    }
    argv = [part.format(**files) for part in argv]
    if "--runs-dir" not in argv and argv[0] != "presets":
        argv += ["--runs-dir", str(runs)]
    code, output = run_cli(argv)
    assert (code, "Traceback" in output) == (2, False), (argv, output)
    assert message in " ".join(output.split()), output
    assert not no_training and not (runs.exists() and any(runs.iterdir()))  # nothing started, no run folder


def test_the_fuzz_generator_reaches_every_option_of_every_command():
    """benchmarks/fuzz_cli.py reads the CLI's parsers: a flag added later is fuzzed without touching it."""
    import subprocess
    import sys

    listed = subprocess.run([sys.executable, "benchmarks/fuzz_cli.py", "--list", "--count", "10"],
                            capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]).stdout
    flags = set(listed.split())
    commands = {line.split()[1] for line in listed.splitlines()}
    assert {"train", "search", "branch", "eval", "export", "presets", "runs"} <= commands
    for option in ("--parallel", "--seeds", "--param", "--workers", "--episodes", "--checkpoint", "--fresh-networks"):
        assert option in flags, option
