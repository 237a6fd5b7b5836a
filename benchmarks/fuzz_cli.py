"""Fuzz the ``tui-rl`` command line: generated command lines, each run as its own process.

    python benchmarks/fuzz_cli.py [--count 400] [--seed 1] [--timeout 120] [--jobs 1] [--only CMD ...] [--list]

The command lines come from the CLI's own parsers (``tui_rl.cli.parsers.command_parser``), so a flag
added later is fuzzed without touching this script: first one line per option of every command
(the newest commands first), then random lines of one to three options each. A value is drawn
for what the option takes (counts: zero, negative, huge, past int64; paths: /proc, a file; config
overrides: every field with values of the wrong type or size; preset and run names: real ones and
missing ones). ``train`` and ``search`` get a small budget unless the line sets one, so valid
input finishes quickly. Lines run in a scratch folder holding one small trained run.

It prints every line that printed a traceback or ran past ``--timeout`` (a hang), then the tally
of exit codes; it exits 1 when there was any. ``--list`` prints the lines without running them.
``attach``, ``serve`` and the app itself are left out: valid input opens the app or a server.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tui_rl.cli.parsers import SUBCOMMANDS, command_parser
from tui_rl.config import RunConfig
from tui_rl.config.presets import list_presets

#: commands whose valid input opens the app or a server, which no timeout can tell from a hang
INTERACTIVE = ("attach", "serve")
#: the small trained run every RUN argument may name
RUN_NAME = "fuzzed"
#: added to a line that sets no budget of its own, so that valid input finishes in seconds
SMALL_BUDGET = {"train": ["--frames", "512"], "search": ["--frames", "512", "--trials", "1"]}

COUNTS = ["-1", "0", "1", "2", "3", "512", str(2**31), str(2**40), str(2**63), str(2**64), "9" * 30, "x", "1e3", ""]
TEXT = ["", "-", "x" * 300, "a\nb", "a/b", "../..", "\x1b[2J", "ñ", "nosuch", "a b"]
PATHS = ["/proc", "/dev/null", "/", "nosuch/dir", "a-file", "runs"]
VALUES = ["-1", "0", "1", "1e999", "nan", "-inf", "9" * 25, str(2**63), "1000000", "[]", "[1, [2, [3]]]",
          "[" * 500, "x", "true", '"text"', "{a = 1}"]
DISTRIBUTIONS = ["loguniform(1e-4,1e-2)", "loguniform(1," + "9" * 400 + ")", "uniform(0,1)", "int(1,8)",
                 "intlog(0,9)", "choice()", "choice(1,2)", "uniform(nan,1)", "nosuch(1,2)", "int(1.5,2)"]
TRANSFORMS = ['[{name = "CatFrames", params = {N = 100000000}}]',
              "[" + ", ".join(['{name = "StepCounter"}'] * 40) + "]"]


def options_of(parser: argparse.ArgumentParser) -> dict[str, list[argparse.Action]]:
    """Each command (``presets validate`` as "presets validate") and the actions it takes.
    argparse has no public way to list a parser's actions: ``_actions`` is the documented-by-use one."""
    found: dict[str, list[argparse.Action]] = {}

    def walk(prefix: str, sub: argparse.ArgumentParser) -> None:
        actions = [a for a in sub._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        found[prefix] = actions
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(f"{prefix} {name}", child)

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name in reversed(SUBCOMMANDS):  # the newest commands first
                if name not in INTERACTIVE:
                    walk(name, action.choices[name])
    return found


def values_for(action: argparse.Action, rng: random.Random) -> list[str]:
    """The argument(s) one use of ``action`` takes (none for a flag)."""
    if action.nargs == 0:
        return []
    if action.choices:
        return [rng.choice([*map(str, action.choices), "nope"])]
    dest = action.dest
    if dest == "overrides":
        fields = leaf_paths(RunConfig().model_dump(mode="json", exclude_none=True))
        if rng.random() < 0.1:
            return [f"transforms={rng.choice(TRANSFORMS)}"]
        return [f"{rng.choice(fields)}={rng.choice(VALUES)}"]
    if dest == "params":
        fields = ["optim.lr", "algorithm.gamma", "replay_buffer.batch_size", "nosuch.field"]
        return [f"{rng.choice(fields)}={rng.choice(DISTRIBUTIONS)}"]
    if action.type is int:
        many = rng.randint(1, 3) if action.nargs == "+" else 1
        return [rng.choice(COUNTS) for _ in range(many)]
    if dest == "runs_dir" or action.type is Path:
        return [rng.choice(PATHS)]
    if dest in ("run", "resume"):
        return [RUN_NAME if rng.random() < 0.7 else rng.choice(TEXT)]
    if dest in ("target", "file", "name") and not action.option_strings:
        return [rng.choice(PRESETS) if rng.random() < 0.7 else rng.choice(["a-file", *TEXT])]
    return [rng.choice([*TEXT, *PRESETS])]


def leaf_paths(data: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        nested = isinstance(value, dict) and value
        paths.extend(leaf_paths(value, f"{prefix}{key}.") if nested else [f"{prefix}{key}"])
    return paths


def command_line(command: str, actions: list[argparse.Action], chosen: list[argparse.Action],
                 rng: random.Random) -> list[str]:
    argv = command.split()
    for action in actions:  # positionals, always, in order (a required option too)
        if not action.option_strings or action.required:
            argv += ([action.option_strings[0]] if action.option_strings else []) + values_for(action, rng)
    for action in chosen:
        if not action.required:
            argv += [rng.choice(action.option_strings), *values_for(action, rng)]
    given = {s for a in actions for s in a.option_strings if a in chosen or a.required}
    argv += [item for flag, item in pairs(SMALL_BUDGET.get(command, [])) if flag not in given for item in (flag, item)]
    return argv


def pairs(items: list[str]) -> list[tuple[str, str]]:
    return list(zip(items[::2], items[1::2]))


def generate(count: int, seed: int, only: list[str] | None) -> list[list[str]]:
    """One line per option of each command first, then random lines, ``count`` in all."""
    rng = random.Random(seed)
    commands = {name: actions for name, actions in options_of(command_parser()).items()
                if not only or name.split()[0] in only}
    lines = []
    for name, actions in commands.items():
        options = [a for a in actions if a.option_strings and not a.required and a.dest != "version"]
        lines += [command_line(name, actions, [option], rng) for option in options] or [command_line(name, actions, [], rng)]
    names = list(commands)
    while len(lines) < count:
        name = rng.choice(names)
        options = [a for a in commands[name] if a.option_strings and a.dest != "version"]
        chosen = rng.sample(options, min(len(options), rng.randint(1, 3)))
        lines.append(command_line(name, commands[name], chosen, rng))
    return lines


def run_line(argv: list[str], folder: Path, timeout: float) -> tuple[list[str], int | None, str]:
    """(argv, exit code or None for a hang, what it printed)."""
    process = subprocess.Popen([sys.executable, "-m", "tui_rl.cli", *argv], cwd=folder, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        return argv, process.returncode, output.decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the trainer's children too
        output, _ = process.communicate()
        return argv, None, output.decode(errors="replace")


def prepare(folder: Path) -> None:
    """A scratch folder with a small trained run and a plain file."""
    (folder / "a-file").write_text("")
    subprocess.run([sys.executable, "-m", "tui_rl.cli", "train", "cartpole-dqn", "--name", RUN_NAME, "--frames", "512",
                    "--set", "collector.frames_per_batch=128", "--set", "eval.every_frames=256"],
                   cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400, help="command lines (at least one per option)")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a line counts as a hang")
    parser.add_argument("--jobs", type=int, default=1, help="lines run at once")
    parser.add_argument("--only", nargs="+", metavar="CMD", help="fuzz only these commands")
    parser.add_argument("--list", action="store_true", help="print the command lines; run nothing")
    args = parser.parse_args()
    lines = generate(args.count, args.seed, args.only)
    if args.list:
        for argv in lines:
            print(shlex.join(["tui-rl", *argv]))
        return 0
    started = time.monotonic()
    tally: dict[str, int] = {}
    bad = 0
    with tempfile.TemporaryDirectory(prefix="tui-rl-fuzz-") as scratch, ThreadPoolExecutor(args.jobs) as pool:
        folder = Path(scratch)
        prepare(folder)
        for argv, code, output in pool.map(lambda argv: run_line(argv, folder, args.timeout), lines):
            kind = "hang" if code is None else "traceback" if "Traceback" in output else f"exit {code}"
            tally[kind] = tally.get(kind, 0) + 1
            if kind in ("hang", "traceback"):
                bad += 1
                last = output.strip().splitlines()[-1:] or [""]
                print(f"{kind}: {shlex.join(['tui-rl', *argv])[:300]}\n    {last[0][:300]}", flush=True)
    print(f"{len(lines)} command lines in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())))
    return 1 if bad else 0


PRESETS = [info.name for info in list_presets()]

if __name__ == "__main__":
    sys.exit(main())
