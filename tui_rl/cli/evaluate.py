"""``tui-rl eval RUN``: play a run's policy from its newest checkpoint."""

from __future__ import annotations

import argparse
import sys

from tui_rl.cli.outcome import EXIT_FAILED, EXIT_OK, UsageError
from tui_rl.cli.user_code import announce_run
from tui_rl.config import ConfigError
from tui_rl.engine.runs.folder import refuse_links, resolve_run


#: an evaluation's episodes: ten thousand already take hours on a long-episode env
MAX_EPISODES = 10_000


def cmd_eval(args: argparse.Namespace) -> int:
    if not 1 <= args.episodes <= MAX_EPISODES:
        raise UsageError(f"--episodes: must be 1 to {MAX_EPISODES:,}, not {args.episodes}")
    if args.video_format and not args.record:
        raise UsageError("--format goes with --record (the video's format)")
    run_dir = resolve_run(args.run, args.runs_dir)
    if args.record:  # refused before any episode is played
        refuse_links(run_dir)
    announce_run(run_dir)
    from tui_rl.engine.inspect.evaluate import evaluate_run  # bad config / no checkpoint: a ConfigError

    try:
        report = evaluate_run(run_dir, args.episodes, args.record, args.video_format or "mp4")
    except ConfigError:
        raise
    except Exception as exc:  # a damaged checkpoint, or one from another version: the reason, not a traceback
        print(f"tui-rl: cannot evaluate {run_dir.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(report.summary())
    return EXIT_OK
