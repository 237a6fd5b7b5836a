"""``tui-rl presets``: list the shipped presets, show one, or validate a preset as ``train`` would."""

from __future__ import annotations

import argparse
import sys

from tui_rl.cli.outcome import EXIT_OK, quiet_torchrl
from tui_rl.config import ConfigError, list_presets, load_preset
from tui_rl.config.presets import resolve_preset


def cmd_presets(args: argparse.Namespace) -> int:
    if args.action == "show":
        path = resolve_preset(args.name)
        try:
            text = path.read_bytes().decode(errors="replace")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        sys.stdout.write(text)  # verbatim: no wrapping, no markup
        return EXIT_OK
    if args.action == "validate":
        quiet_torchrl()
        from tui_rl.engine.run.preflight import check_buildable  # loads torch: only to validate

        config = load_preset(args.file)
        check_buildable(config)
        print(f"{args.file}: valid ({config.env.id}, {config.algorithm.name})")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "env", "algorithm", "description", box=None, header_style="bold")
    for info in list_presets():
        table.add_row(info.name, info.env_id, info.algorithm, info.description)
    Console().print(table)
    return EXIT_OK
