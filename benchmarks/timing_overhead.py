"""The time panel's cost: frames per second of the same training with batch timing on and off.

    python benchmarks/timing_overhead.py [PRESET] [--frames 6000] [--rounds 3]

After one warm-up run (not counted), each round trains the preset (its budget cut to --frames, no
evaluations or checkpoints) once with timing off and once with it on, back to back in alternating
order, in this process; frames/s counts collection and updates only (the trainer's own
``train_seconds``). The overhead is the median over rounds of each pair's ratio, so a load that
drifts over minutes shifts both runs of a pair alike. On a loaded machine that noise can exceed the
overhead itself, so it also prints an estimate from the measured cost of what timing adds per
frame (three wrapped calls: the env's two ``_step`` and the policy's ``forward``) against the
seconds per frame without timing. Goal: <= 2 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path


def frames_per_second(preset: str, frames: int, profile: bool, runs_dir: Path) -> float:
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.runs.record import create_run
    from tui_rl.engine.run.trainer import Trainer

    config = apply_overrides(load_preset(preset), [
        f"collector.total_frames={frames}", "eval.every_frames=100000000", "eval.episodes=1",
        "eval.target_return=none", "checkpoint.every_frames=100000000", "checkpoint.replay_buffer=false",
    ])
    run_dir = create_run(config, runs_dir=runs_dir, preset=preset)
    trainer = Trainer(config, run_dir, profile=profile)
    if trainer.run() != "finished":
        raise SystemExit(f"the run failed: {trainer.reason}")
    return trainer.counters.frames / trainer.counters.train_seconds


def added_seconds_per_frame(calls: int = 200_000) -> float:
    """What timing adds to one env step: three wrapped calls (the env's two ``_step`` and the
    policy's ``forward``), measured here against the bare call."""
    import time

    from tui_rl.engine.run.batch_timing import BatchTimer

    def per_call(function) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            function()
        return (time.perf_counter() - started) / calls

    def bare() -> None:
        return None

    wrapped = BatchTimer().timed(bare, "x")
    return 3 * max(0.0, min(per_call(wrapped) for _ in range(3)) - min(per_call(bare) for _ in range(3)))


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
    added = added_seconds_per_frame()
    print(f"timing adds {added * 1e6:.2f} us per frame: {added * statistics.median(off):.2%} of a frame "
          f"at {statistics.median(off):.0f} frames/s (estimate; goal <= 2%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
