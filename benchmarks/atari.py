"""PPO on Atari Pong: tui-rl's ``pong-ppo`` beside Stable-Baselines3 with RL Zoo's PPO Atari settings.

    python benchmarks/atari.py [--steps 8192] [--preset pong-ppo] [--no-sb3]

Both learn for ``--steps`` agent steps (after frame skip) on the same machine in the same run,
one torch thread each: 8 env copies x 128 steps, 4 epochs of 256-step minibatches, the Nature
CNN, clip 0.1, entropy 0.01, value 0.5, lr 2.5e-4 annealed. SB3 plays the same env (ALE/Pong-v5
with frameskip 1) through its AtariWrapper and VecFrameStack, as RL Zoo does. SB3 is installed
into a side venv (``--no-deps``, reading this interpreter's packages through a ``.pth`` file)
under the temp folder, once; when that cannot be done its lines say why and are skipped.

Printed: tui-rl's time panel split (ms per 1,024-step batch), agent steps/s of each (wall clock,
and per CPU second, which a machine shared with other jobs does not skew), their ratio, and the
env-only steps/s of tui-rl's Gymnasium path (the preset's env, random actions) and of SB3's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

SB3_VENV = Path(tempfile.gettempdir()) / "tui-rl-bench-sb3"
SB3_PACKAGES = ["stable-baselines3", "opencv-python-headless"]

#: runs in the side venv: prints one JSON line of figures
SB3_SCRIPT = """
import json, sys, time
import ale_py, gymnasium, torch
torch.set_num_threads(1)
gymnasium.register_envs(ale_py)
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.vec_env import VecFrameStack
steps = int(sys.argv[1])
env = VecFrameStack(make_atari_env("ALE/Pong-v5", n_envs=8, seed=0, env_kwargs={"frameskip": 1}), n_stack=4)
env.reset()
started, count = time.perf_counter(), 0
while count < 1024:
    env.step([env.action_space.sample() for _ in range(8)]); count += 8
env_only = count / (time.perf_counter() - started)
linear = lambda start: (lambda progress: progress * start)
model = PPO("CnnPolicy", env, n_steps=128, n_epochs=4, batch_size=256, learning_rate=linear(2.5e-4),
            clip_range=linear(0.1), ent_coef=0.01, vf_coef=0.5, device="cpu", seed=0, verbose=0)
wall, cpu = time.perf_counter(), time.process_time()
model.learn(total_timesteps=steps)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"steps": model.num_timesteps, "wall": wall, "cpu": cpu, "env_only": env_only}))
"""


def sb3_python() -> tuple[Path | None, str]:
    """The side venv's interpreter with SB3 installed (made once), or None and why not."""
    python = SB3_VENV / "bin" / "python"
    check = [str(python), "-c", "import stable_baselines3, cv2, torch"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(SB3_VENV)], check=True, capture_output=True)
        site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
        site.mkdir(parents=True, exist_ok=True)
        (site / "tui_rl_bench.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch, gymnasium, ale-py
        install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", *SB3_PACKAGES]
        done = subprocess.run(install, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return None, f"pip install {' '.join(SB3_PACKAGES)} failed: {done.stderr.strip().splitlines()[-1:]}"
        subprocess.run(check, check=True, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not make a venv with SB3 at {SB3_VENV}: {exc}"
    return python, ""


def run_sb3(steps: int) -> dict | str:
    python, why = sb3_python()
    if python is None:
        return why
    done = subprocess.run([str(python), "-c", SB3_SCRIPT, str(steps)], capture_output=True, text=True)
    if done.returncode != 0:
        return "SB3 failed: " + " ".join(done.stderr.strip().splitlines()[-3:])
    return json.loads(done.stdout.strip().splitlines()[-1])


class Clock:
    """Wall and CPU seconds of the training batches (collection and update), and the time panel's
    split, from the trainer's events; it stops the run once ``steps`` agent steps are in."""

    def __init__(self, trainer_ref: list, steps: int) -> None:
        self.trainer_ref, self.steps = trainer_ref, steps
        self.cpu, self.mark = 0.0, time.process_time()
        self.split: dict[str, list[float]] = {}

    def on_event(self, event) -> None:
        from tui_rl.config.metrics import BATCH_TIMES
        from tui_rl.engine.protocol import Metrics

        now = time.process_time()
        if isinstance(event, Metrics):
            self.cpu += now - self.mark
            for name, metric in BATCH_TIMES.items():
                if metric.name in event.values and event.values[metric.name] > 0:
                    self.split.setdefault(name, []).append(event.values[metric.name])
            trainer = self.trainer_ref[0]
            if trainer.counters.frames >= self.steps:
                trainer.stop("benchmark steps reached")
        self.mark = time.process_time()


def run_tui_rl(preset: str, steps: int) -> dict:
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.run.trainer import Trainer
    from tui_rl.engine.runs.record import create_run

    config = load_preset(preset)  # its own budget, so the learning rate anneals as in a real run
    config = apply_overrides(config, [f"eval.every_frames={config.collector.total_frames}",
                                      f"checkpoint.every_frames={config.collector.total_frames}"])
    with tempfile.TemporaryDirectory(prefix="tui-rl-atari-") as runs_dir:
        run_dir = create_run(config, name="bench", runs_dir=Path(runs_dir), preset=preset)
        ref: list = []
        clock = Clock(ref, steps)
        trainer = Trainer(config, run_dir, on_event=clock.on_event, profile=True)
        ref.append(trainer)
        state = trainer.run()
    if state == "failed":
        raise SystemExit(f"{preset}: the run failed: {trainer.reason}")
    frames, seconds = trainer.counters.frames, trainer.counters.train_seconds
    split = {name: sum(v) / len(v) for name, v in clock.split.items()}
    return {"steps": frames, "wall": seconds, "cpu": clock.cpu, "split": split}


def env_only(preset: str, steps: int = 1024) -> float:
    """Agent steps/s of the preset's env (all its copies, the whole transform stack), random actions."""
    from tui_rl.config import load_preset
    from tui_rl.engine.envs.making import make_env

    env = make_env(load_preset(preset))
    env.set_seed(0)
    copies = max(1, env.batch_size.numel())
    env.rollout(8, break_when_any_done=False)  # warm-up
    started = time.perf_counter()
    env.rollout(steps // copies, break_when_any_done=False)
    rate = steps / (time.perf_counter() - started)
    env.close()
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8192)
    parser.add_argument("--preset", default="pong-ppo")
    parser.add_argument("--no-sb3", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    with open("/proc/loadavg") as f:
        print(f"load average before: {' '.join(f.read().split()[:3])}")
    print(f"env only, tui-rl {args.preset} (Gymnasium path): {env_only(args.preset):.0f} agent steps/s")
    ours = run_tui_rl(args.preset, args.steps)
    split = ", ".join(f"{name} {ms:.0f}" for name, ms in ours["split"].items())
    print(f"tui-rl time panel, ms per batch: {split}")
    rate, cpu_rate = ours["steps"] / ours["wall"], ours["steps"] / ours["cpu"]
    print(f"tui-rl {args.preset}: {ours['steps']} agent steps, {rate:.1f} agent steps/s ({cpu_rate:.1f} per CPU s)")
    if args.no_sb3:
        return 0
    sb3 = run_sb3(args.steps)
    if isinstance(sb3, str):
        print(f"SB3: skipped ({sb3})")
        return 0
    print(f"env only, SB3 AtariWrapper + VecFrameStack: {sb3['env_only']:.0f} agent steps/s")
    sb3_rate, sb3_cpu_rate = sb3["steps"] / sb3["wall"], sb3["steps"] / sb3["cpu"]
    print(f"SB3 PPO (RL Zoo Atari settings): {sb3['steps']} agent steps, {sb3_rate:.1f} agent steps/s "
          f"({sb3_cpu_rate:.1f} per CPU s)")
    print(f"ratio tui-rl / SB3: {rate / sb3_rate:.2f}x wall clock, {cpu_rate / sb3_cpu_rate:.2f}x per CPU second")
    with open("/proc/loadavg") as f:
        print(f"load average after: {' '.join(f.read().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
