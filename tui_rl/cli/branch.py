"""``tui-rl branch RUN [--checkpoint N] [--set K=V]... [--name N] [--fresh-networks]``: a new run
that starts from one of RUN's checkpoints with edited fields, trained in this process (the parent
may go on training meanwhile)."""

from __future__ import annotations

import argparse

from tui_rl.cli.outcome import UsageError, quiet_torchrl
from tui_rl.cli.user_code import announce_run
from tui_rl.cli.train import train_headless
from tui_rl.config.edit import parse_overrides
from tui_rl.engine.runs.record import check_run_name
from tui_rl.engine.runs.folder import resolve_run


def cmd_branch(args: argparse.Namespace) -> int:
    quiet_torchrl()
    if args.name is not None:
        check_run_name(args.name)
    parent = resolve_run(args.run, args.runs_dir)
    changes = parse_overrides(args.overrides)
    announce_run(parent)
    from tui_rl.engine.run.branching import BranchRefused, branch_run  # torch: only once the arguments hold

    try:
        child = branch_run(parent, changes, at_frames=args.checkpoint, name=args.name,
                           fresh_networks=args.fresh_networks)
    except BranchRefused as exc:
        hint = " (or pass --fresh-networks)" if exc.misfit else ""
        raise UsageError(f"{exc}{hint}") from None
    return train_headless(child, resume=True, fresh=False)
