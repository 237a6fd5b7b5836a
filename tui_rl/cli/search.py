"""``tui-rl search PRESET --trials N``: an Optuna search whose trials are normal runs.

Everything is checked before the study or any run exists: the preset, ``--set`` values, each
``--param`` expression against the config model, and that the config can be built. The study's
settings (preset, space, budget) are stored in it: run the same command again, or just
``tui-rl search --study NAME --trials N``, to resume it or to add a worker from another terminal.
``--workers W`` starts W-1 more such processes on the study.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tui_rl.cli.options import runs_dir_option, set_option
from tui_rl.cli.outcome import EXIT_FAILED, EXIT_OK, UsageError, quiet_torchrl
from tui_rl.config import RunConfig, apply_overrides, load_preset
from tui_rl.config.models import MAX_SEED, MAX_TOTAL_FRAMES
from tui_rl.config.presets import name_problem
from tui_rl.engine.extras import install_line, installed
from tui_rl.engine.python_command import python_module

#: defaults of the settings a study keeps (``engine/search/study.py``'s ``SETTING_TYPES``); given again when resuming, each must match
DEFAULTS: dict[str, Any] = {"overrides": [], "frames": None, "evals": 10, "seeds": 1, "params": [],
                            "startup": 5, "pruner": "median"}

#: the most each count may be: beyond them a study would never end, evaluate at every step or
#: start more processes than any machine holds
COUNT_LIMITS = {"trials": 100_000, "frames": MAX_TOTAL_FRAMES, "evals": 1000, "seeds": 100, "workers": 256}
#: the settings given by an option not named ``--SETTING``
OPTIONS = {"target": "PRESET", "overrides": "--set", "params": "--param", "seeds": "--seeds-per-trial"}


def option_name(setting: str) -> str:
    """The command-line option that gives ``setting``."""
    return OPTIONS.get(setting, f"--{setting}")


def cmd_search(args: argparse.Namespace) -> int:
    quiet_torchrl()
    if args.seed_list is not None:  # train's --seeds is a list of seeds; a trial's count is another flag
        raise UsageError("--seeds: search takes --seeds-per-trial N (each trial trains N seeds and "
                         "scores their mean return); --seeds S1 S2 ... is train's seed group")
    if not installed("optuna"):
        raise UsageError(f"search needs Optuna: {install_line('optuna')}")
    for option, most in COUNT_LIMITS.items():
        value = getattr(args, option)
        if value is not None and not 1 <= value <= most:
            raise UsageError(f"{option_name(option)}: must be 1 to {most:,}, not {value}")
    if args.startup is not None and args.startup < 0:
        raise UsageError(f"--startup: must be 0 or more, not {args.startup}")
    highest = MAX_SEED - (args.workers - 1)  # worker k samples with --seed + k
    if args.seed is not None and not 0 <= args.seed <= highest:
        raise UsageError(f"--seed: must be 0 to {highest}" + (" (each worker takes the next seed)" if args.workers > 1 else "")
                         + f", not {args.seed}")
    from tui_rl.engine.run.stop_signals import StopSignals

    signals = StopSignals({signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)",
                           signal.SIGHUP: "the terminal closed"})
    from sqlalchemy.exc import SQLAlchemyError

    from tui_rl.engine.runs.record import make_runs_dir
    from tui_rl.engine.search.space import build_space
    from tui_rl.engine.search.worker import Worker
    from tui_rl.engine.search import study as search_study

    name = study_name(args)
    existing = name in search_study.study_names(args.runs_dir)
    if not existing and not args.target:
        raise UsageError(f"--study: there is no study {name!r} in {args.runs_dir}; name a preset to start it")
    settings = merged_settings(args, search_study.settings_of(search_study.open_study(args.runs_dir, name))
                               if existing else None)
    config = base_config(settings)
    space = build_space(config, settings["params"])
    settings["params"] = [str(spec) for spec in space]
    check(config, args.runs_dir)
    make_runs_dir(args.runs_dir)
    study = search_study.create_study(args.runs_dir, name, settings)
    if not existing:
        say(f"study {name}: {len(space)} parameters, in {search_study.study_db(args.runs_dir)}")
    search_study.request_stop(study, False)  # a search stopped from the app goes on when asked to
    plan = make_plan(args, name, config, space, settings)
    helpers = [start_helper(args, name, k) for k in range(1, args.workers)]
    try:
        Worker(plan, say, signals).run()
        report(study)
    except SQLAlchemyError as exc:  # the database locked too long, its disk full or gone
        print(f"tui-rl: the study database {search_study.study_db(args.runs_dir)}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        for helper in helpers:
            helper.wait()
    return EXIT_OK


def study_name(args: argparse.Namespace) -> str:
    if args.study is None and not args.target:
        raise UsageError("search: name a preset (see `tui-rl presets`), or --study NAME to go on with one")
    name = args.study or Path(args.target).stem
    problem = name_problem(name)
    if problem:
        raise UsageError(f"--study: {name!r} is not a usable study name: {problem}")
    return name


def merged_settings(args: argparse.Namespace, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The study's settings: those given (new study), or the stored ones, which those given must match."""
    from tui_rl.engine.search.study import SETTING_TYPES

    given = {key: getattr(args, key) for key in SETTING_TYPES if getattr(args, key) not in (None, [])}
    if stored is None:
        return {**DEFAULTS, **given}
    for key, value in given.items():
        if key == "params" and stored.get(key) and value != stored[key]:
            # as written, or in the canonical form the study stored
            from tui_rl.engine.search.space import parse_param

            value = [str(parse_param(text)) for text in value]
        if value != stored.get(key, DEFAULTS.get(key)):
            raise UsageError(
                f"{option_name(key)}: study {args.study or Path(args.target).stem} was made with "
                f"{stored.get(key, DEFAULTS.get(key))!r}, not {value!r}; leave it out to go on with the study, "
                "or name a new one with --study"
            )
    return {**DEFAULTS, **stored}


def base_config(settings: dict[str, Any]) -> RunConfig:
    overrides = list(settings["overrides"])
    config = load_preset(settings["target"])
    if settings["frames"] is not None:
        overrides.append(f"collector.total_frames={settings['frames']}")
    config = apply_overrides(config, overrides)
    every = max(1, config.collector.total_frames // settings["evals"])
    return apply_overrides(config, [f"eval.every_frames={every}"])


def check(config: RunConfig, runs_dir: Path) -> None:
    from tui_rl.engine.run.preflight import check_buildable

    check_buildable(config, runs_dir)


def make_plan(args: argparse.Namespace, name: str, config: RunConfig, space: list, settings: dict) -> Any:
    from tui_rl.engine.search.worker import SearchPlan

    return SearchPlan(study=name, runs_dir=args.runs_dir, config=config, space=space, trials=args.trials,
                      preset=settings["target"], seeds=settings["seeds"], startup=settings["startup"],
                      pruner=settings["pruner"], seed=args.seed)


def start_helper(args: argparse.Namespace, name: str, index: int) -> subprocess.Popen:
    """One more worker process on the study (it reads the settings from the study)."""
    command = python_module("tui_rl.cli", "search", "--study", name, "--trials", str(args.trials),
                            "--runs-dir", str(args.runs_dir))
    if args.seed is not None:
        command += ["--seed", str(args.seed + index)]  # its own sampler stream
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


def say(line: str) -> None:
    print(line, flush=True)


def report(study: Any) -> None:
    from tui_rl.engine.runs.reproduce import override, set_options
    from tui_rl.engine.search.space import config_value
    from tui_rl.engine.search.view import trial_rows

    rows = trial_rows(study)
    states = {state: sum(r.state == state for r in rows) for state in ("complete", "pruned", "fail")}
    say(f"study {study.study_name}: " + ", ".join(f"{n} {s}" for s, n in states.items()))
    done = [r for r in rows if r.value is not None]
    if done:
        best = max(done, key=lambda r: r.value)
        say(f"best: trial {best.number}, return {best.value:.1f}, runs {', '.join(best.runs)}")
        overrides = [override(path, config_value(value)) for path, value in best.params.items()]
        say("  " + shlex.join(set_options(overrides)))


def add_search_parser(sub: argparse._SubParsersAction) -> None:
    """The ``search`` subcommand and its arguments."""
    search = sub.add_parser("search", help="tune hyperparameters with Optuna; each trial is a run")
    search.add_argument("target", nargs="?", help="a preset name or a preset TOML file")
    search.add_argument("--trials", type=int, required=True, metavar="N", help="trials the study should hold")
    search.add_argument(
        "--param", dest="params", action="append", default=[], metavar="PATH=KIND(ARGS)",
        help="a field to vary: loguniform(a,b), uniform(a,b), int(a,b), intlog(a,b) or choice(v1,v2,...), "
        "such as optim.lr=loguniform(1e-4,1e-2) (repeatable; default: RL Zoo's space for the algorithm)",
    )
    set_option(search, "a fixed config value for every trial, such as eval.episodes=5")
    search.add_argument("--frames", type=int, help="frame budget of each trial (collector.total_frames)")
    search.add_argument("--evals", type=int, help="evaluations per trial, reported to the pruner (default: 10)")
    search.add_argument("--seeds-per-trial", dest="seeds", type=int, metavar="N",
                        help="seeds each trial trains; its value is their mean return (default: 1)")
    # named so that it is refused, not read as an abbreviation of --seeds-per-trial
    search.add_argument("--seeds", dest="seed_list", nargs="*", metavar="SEED",
                        help="refused: train's list of seeds; a search takes --seeds-per-trial")
    search.add_argument("--workers", type=int, default=1, help="worker processes on the study (default: 1)")
    search.add_argument("--study", help="the study's name (default: the preset's name); an existing one resumes")
    search.add_argument("--startup", type=int, help="random trials before TPE, and before pruning (default: 5)")
    search.add_argument("--pruner", choices=("median", "none"), help="prune on evaluation returns (default: median)")
    search.add_argument("--seed", type=int, help="the sampler's seed")
    runs_dir_option(search)
    search.set_defaults(handler=cmd_search)
