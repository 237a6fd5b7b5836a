"""Every argument and every command of `tui-rl` says what it is for, and `--version` answers."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib.metadata import version

import pytest

from tui_rl.cli import main
from tui_rl.cli.parsers import app_parser, command_parser


def parsers(parser: argparse.ArgumentParser, path: str = "tui-rl") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:  # argparse offers no public walk of its tree
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, f"{path} {name}")


def test_every_argument_and_command_has_help_text():
    missing = []
    walked = list(parsers(command_parser())) + [("tui-rl (app)", app_parser())]
    for path, parser in walked:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                described = {choice.dest for choice in action._choices_actions if choice.help}
                missing += [f"{path} {name}" for name in action.choices if name not in described]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert len(walked) > 8 and not missing, missing  # the walk reached the subcommands


def test_version_names_tui_rl_torchrl_and_torch_and_exits_0(capsys):
    expected = f"tui-rl {version('tui-rl')} (torchrl {version('torchrl')}, torch {version('torch')})\n"
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == expected
    with pytest.raises(SystemExit) as exited:  # `tui-rl COMMAND ...`'s parser knows it too
        command_parser().parse_args(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == expected
