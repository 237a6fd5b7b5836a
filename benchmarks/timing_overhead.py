"""The time panel's cost: frames per second of the same training with batch timing on and off.

    python benchmarks/timing_overhead.py [PRESET] [--frames 6000] [--rounds 3]

Each round trains the preset (with its budget cut to --frames, no evaluations or checkpoints) once
with timing off and once with it on, in alternating order, in this process; frames/s counts
collection and updates only (the trainer's own ``train_seconds``). The overhead is the ratio of the
medians, so a loaded machine shifts both sides alike. Goal: <= 2 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path


def frames_per_second(preset: str, frames: int, profile: bool, runs_dir: Path) -> float:
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.run_record import create_run
    from tui_rl.engine.trainer import Trainer

    config = apply_overrides(load_preset(preset), [
        f"collector.total_frames={frames}", "eval.every_frames=100000000", "eval.episodes=1",
        "eval.target_return=none", "checkpoint.every_frames=100000000", "checkpoint.replay_buffer=false",
    ])
    run_dir = create_run(config, runs_dir=runs_dir, preset=preset)
    trainer = Trainer(config, run_dir, profile=profile)
    if trainer.run() != "finished":
        raise SystemExit(f"the run failed: {trainer.reason}")
    return trainer.counters.frames / trainer.counters.train_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", nargs="?", default="cartpole-dqn")
    parser.add_argument("--frames", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    off, on = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            order = (False, True) if round_ % 2 == 0 else (True, False)
            for profile in order:
                fps = frames_per_second(args.preset, args.frames, profile, Path(tmp))
                (on if profile else off).append(fps)
                print(f"round {round_ + 1}: timing {'on ' if profile else 'off'} {fps:8.0f} frames/s", flush=True)
    off_median, on_median = statistics.median(off), statistics.median(on)
    overhead = 1 - on_median / off_median
    print(f"{args.preset}: {off_median:.0f} frames/s without timing, {on_median:.0f} with it: "
          f"overhead {overhead:+.1%} (goal <= 2%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
