"""The time panel's cost: frames per second of the same training with batch timing on and off.

    python benchmarks/timing_overhead.py [PRESET] [--frames 6000] [--rounds 3]

After one warm-up run (not counted), each round trains the preset (its budget cut to --frames, no
evaluations or checkpoints) once with timing off and once with it on, back to back in alternating
order, in this process; frames/s counts collection and updates only (the trainer's own
``train_seconds``). The overhead is the median over rounds of each pair's ratio, so a load that
drifts over minutes shifts both runs of a pair alike. Goal: <= 2 %.
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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    off, on = [], []
    with tempfile.TemporaryDirectory() as tmp:
        frames_per_second(args.preset, args.frames, False, Path(tmp))  # warm-up: first imports, allocations
        for round_ in range(args.rounds):
            order = (False, True) if round_ % 2 == 0 else (True, False)
            for profile in order:
                fps = frames_per_second(args.preset, args.frames, profile, Path(tmp))
                (on if profile else off).append(fps)
                print(f"round {round_ + 1}: timing {'on ' if profile else 'off'} {fps:8.0f} frames/s", flush=True)
    overhead = statistics.median(1 - with_timing / without for with_timing, without in zip(on, off))
    print(f"{args.preset}: median {statistics.median(off):.0f} frames/s without timing, "
          f"{statistics.median(on):.0f} with it; overhead {overhead:+.1%} (median of {args.rounds} pairs; goal <= 2%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
