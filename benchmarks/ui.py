"""The app's costs, measured through a real pseudo-terminal (80x24), beside their baselines:

    python benchmarks/ui.py [--preset cartpole-dqn] [--frames 40000]

1. Time to first paint of `tui-rl` (until the header's title is on screen), beside a hello-world
   Textual app's and `python -c "import torchrl"`, alternated in the same run.
   The waits between a key and a curve (at 100x30, the env list cached by an earlier launch):
   the Setup screen complete after the first paint (the env list and the specs both shown), `s`
   to RUNNING and to the return chart's first point, and, from the Runs screen, `b` to the
   branch dialog plus its confirmation to the child's RUNNING.
2. Training frames/s with the app attached, divided by headless (`tui-rl train`) for the same
   preset: frames / training seconds (collection and updates; evaluation and checkpoints are
   excluded by the trainer's own clock). Runs alternate headless / app to share the machine's load.
3. Key press to screen latency while training at full speed: `]` and `[` switch the chart, and
   the time runs from writing the key to the pty until the new chart's title arrives (p50, p95).
4. The inspector: key press to screen when stepping a live env by its policy (`p`: env step,
   policy forward, frame drawn) and when stepping back through the steps taken (`←`: the frame
   and the TensorDict redrawn), until the step counter shows the new step.
5. The app's memory growth: its resident set size sampled while it shows a long live run (one
   update per batch, so many batches a second), as MB per million frames after a warm-up; and
   over one million frames of events replayed through the same Train screen in-process at the
   preset's batch size (no trainer needed).
"""

from __future__ import annotations

import argparse
import fcntl
import math
import os
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
SIZE = (80, 24)
PARTS = ["paint", "waits", "branch", "attached", "keys", "inspector", "memory"]


class TerminalApp:
    """A command in a pseudo-terminal; everything it prints is kept with its arrival time."""

    def __init__(self, command: list[str], cwd: Path, size: tuple[int, int] = SIZE) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(size[0]), "LINES": str(size[1])}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.chunks.append((time.perf_counter(), data))

    def press(self, key: str) -> float:
        """Type ``key``; returns when it was written."""
        sent = time.perf_counter()
        os.write(self.master, key.encode())
        return sent

    def seen(self, since: float) -> bytes:
        """The output written after ``since``, escape sequences left out."""
        with self.lock:
            return ANSI.sub(b"", b"".join(data for arrived, data in self.chunks if arrived >= since))

    def wait_for(self, text: str | re.Pattern[bytes], since: float, timeout: float = 60.0) -> float:
        """When ``text`` (or a match of the pattern; escape sequences aside) had arrived in output
        written after ``since``."""
        needle = text if isinstance(text, re.Pattern) else re.compile(re.escape(text.encode()))
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self.lock:
                chunks = [c for c in self.chunks if c[0] >= since]
            seen = b""
            for arrived, data in chunks:
                seen += data
                if needle.search(ANSI.sub(b"", seen)):
                    return arrived
            time.sleep(0.002)
        raise TimeoutError(f"{text!r} did not appear in {timeout:.0f} s")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        os.close(self.master)


def first_paint(preset_file: Path, workdir: Path) -> float:
    app = TerminalApp([str(BIN / "tui-rl"), str(preset_file)], workdir)
    try:
        return app.wait_for("tui-rl", since=0.0) - app.started
    finally:
        app.close()


HELLO_WORLD = """
from textual.app import App
from textual.widgets import Header


class HelloWorld(App):
    TITLE = "hello-world"

    def compose(self):
        yield Header()


HelloWorld().run()
"""


def hello_world_paint(workdir: Path) -> float:
    """Time to first paint of the smallest Textual app with a header, as tui-rl's is timed."""
    script = workdir / "hello_world.py"
    script.write_text(HELLO_WORLD)
    app = TerminalApp([sys.executable, str(script)], workdir)
    try:
        return app.wait_for("hello-world", since=0.0) - app.started
    finally:
        app.close()


def import_torchrl() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torchrl"], check=True)
    return time.perf_counter() - started


def only_run(runs_dir: Path, before: set[str]):
    from tui_rl.engine.runs.folder import list_runs

    runs = [run for run in list_runs(runs_dir) if run.name not in before]
    return runs[0] if runs else None


def train_headless(preset_file: Path, runs_dir: Path) -> float:
    from tui_rl.engine.runs.folder import list_runs

    before = {run.name for run in list_runs(runs_dir)}
    subprocess.run(
        [str(BIN / "tui-rl"), "train", str(preset_file), "--runs-dir", str(runs_dir)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    run = only_run(runs_dir, before)
    return run.frames / run.train_seconds


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class AppRun:
    """The app started on ``preset_file`` with `s`; what happened while its run trained."""

    def __init__(self, preset_file: Path, runs_dir: Path, workdir: Path) -> None:
        self.preset_file, self.runs_dir, self.workdir = preset_file, runs_dir, workdir
        self.latencies: list[float] = []
        self.memory: list[tuple[int, float]] = []  # (frames, app RSS MB)
        self.fps = self.app_cpu = float("nan")

    def train(self, press_keys: bool = False) -> AppRun:
        from tui_rl.engine.protocol import FINAL_STATES
        from tui_rl.engine.runs.folder import list_runs

        before = {run.name for run in list_runs(self.runs_dir)}
        app = TerminalApp([str(BIN / "tui-rl"), str(self.preset_file), "--runs-dir", str(self.runs_dir)], self.workdir)
        titles = ("Episode length", "Episode return")
        try:
            app.wait_for("Start", since=0.0)
            app.wait_for("RUNNING", since=app.press("s"))
            cpu_start, wall_start = cpu_seconds(app.process.pid), time.perf_counter()
            while True:
                run = only_run(self.runs_dir, before)  # its folder exists once RUNNING shows
                if run.status in FINAL_STATES:
                    break
                self.memory.append((run.frames, app.rss_mb()))
                if press_keys and len(self.latencies) < 40:
                    key, title = ("]", titles[0]) if len(self.latencies) % 2 == 0 else ("[", titles[1])
                    sent = app.press(key)
                    self.latencies.append(app.wait_for(title, since=sent, timeout=10) - sent)
                time.sleep(0.25)
            self.app_cpu = (cpu_seconds(app.process.pid) - cpu_start) / (time.perf_counter() - wall_start)
            app.press("q")  # no live run: the app quits at once
            app.process.wait(20)
        finally:
            app.close()
        self.fps = run.frames / run.train_seconds
        return self


#: the size the waits of issue 23 were first measured at
WAIT_SIZE = (100, 30)
#: the env list is shown: the current env among its options ("Env  CartPole-v1" beside it is not)
LISTED = re.compile(rb"(?<!Env) {2}CartPole-v1")
#: the specs are shown: the probe's table (its "Building ..." line has no such row)
SPECS = "observation"
#: the return chart has its first point: its legend names the smoothed line
FIRST_POINT = "mean of 20"


def waits_to_train(preset_file: Path, runs_dir: Path, workdir: Path) -> tuple[float, float, float, float]:
    """One launch: first paint; Setup complete (env list and specs shown) after it; then `s` to
    RUNNING and to the return chart's first point. Seconds each."""
    from tui_rl.engine.protocol import FINAL_STATES

    before = {run.name for run in list_runs(runs_dir)}
    app = TerminalApp([str(BIN / "tui-rl"), str(preset_file), "--runs-dir", str(runs_dir)], workdir, WAIT_SIZE)
    try:
        painted = app.wait_for("tui-rl", since=0.0)
        complete = max(app.wait_for(LISTED, since=painted), app.wait_for(SPECS, since=painted, timeout=120))
        started = app.press("s")
        running = app.wait_for(re.compile(rb"RUNNING|NOT STARTED"), since=started, timeout=120)
        if refused := re.search(rb"cannot start: [^\r\n]*", app.seen(started)):
            print(f"  (the app refused the run: {refused.group().decode(errors='replace').strip()})")
            running = point = math.nan
        else:
            point = app.wait_for(FIRST_POINT, since=started, timeout=120)
        figures = painted - app.started, complete - painted, running - started, point - started
        stop_new_trainers(runs_dir, before, FINAL_STATES)
        app.press("q")
        app.process.wait(20)
    finally:
        app.close()
    return figures


def list_runs(runs_dir: Path):
    from tui_rl.engine.runs.folder import list_runs as listed

    return listed(runs_dir)


def stop_new_trainers(runs_dir: Path, before: set[str], final_states) -> None:
    """SIGTERM the trainers of runs started since ``before`` (each leads its own session), and
    wait until each has stopped, so the next figure has the machine to itself."""
    runs = [run for run in list_runs(runs_dir) if run.name not in before and run.pid]
    for run in runs:
        try:
            os.killpg(run.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline and any(
        run.status not in final_states for run in list_runs(runs_dir) if run.name in {r.name for r in runs}
    ):
        time.sleep(0.2)


def stopped_parent(preset_file: Path, runs_dir: Path) -> Path:
    """A run stopped after its first checkpoint, with most of its frames still to train: a branch
    of it runs on."""
    from tui_rl.engine.protocol import FINAL_STATES
    from tui_rl.engine.run.branching import checkpoint_frames

    before = {run.name for run in list_runs(runs_dir)}
    trainer = subprocess.Popen(
        [str(BIN / "tui-rl"), "train", str(preset_file), "--runs-dir", str(runs_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.perf_counter() + 300
    while (run := only_run(runs_dir, before)) is None or not checkpoint_frames(run.path):
        if time.perf_counter() > deadline or trainer.poll() is not None:
            raise RuntimeError("the parent run wrote no checkpoint")
        time.sleep(0.2)
    os.killpg(trainer.pid, signal.SIGTERM)
    trainer.wait(60)
    assert only_run(runs_dir, before).status in FINAL_STATES
    return run.path


def branch_wait(parent: Path, runs_dir: Path, workdir: Path) -> tuple[float, float]:
    """From the Runs screen: `b` to the branch dialog, and its confirmation (ctrl+b, the defaults:
    the newest checkpoint, no edits) to the child's RUNNING. Seconds each."""
    from tui_rl.engine.protocol import FINAL_STATES

    before = {run.name for run in list_runs(runs_dir)}
    app = TerminalApp([str(BIN / "tui-rl"), "--runs-dir", str(runs_dir)], workdir, WAIT_SIZE)
    try:
        app.wait_for("tui-rl", since=0.0)
        app.wait_for(parent.name, since=app.press("3"))
        pressed = app.press("b")
        dialog = app.wait_for("Branch (ctrl+b)", since=pressed, timeout=120)
        confirmed = app.press("\x02")  # ctrl+b
        running = app.wait_for("RUNNING", since=confirmed, timeout=120)
        stop_new_trainers(runs_dir, before, FINAL_STATES)
        app.press("q")
        app.process.wait(20)
    finally:
        app.close()
    return dialog - pressed, running - confirmed


def inspector_steps(preset_file: Path, workdir: Path, steps: int = 30) -> tuple[list[float], list[float]]:
    """Latencies of ``steps`` live policy steps (`p`) in the inspector, then of as many steps back (`←`)."""
    app = TerminalApp([str(BIN / "tui-rl"), str(preset_file)], workdir)
    forward, back = [], []
    try:
        app.wait_for("Start", since=0.0)
        app.wait_for("Live env", since=app.press("4"))
        app.wait_for("LIVE", since=app.press("l"), timeout=120)
        for step in range(steps + 1):
            sent = app.press("p")
            forward.append(app.wait_for(f"step {step}/{step} ", since=sent) - sent)
        for step in range(steps - 1, -1, -1):
            sent = app.press("\x1b[D")  # left arrow
            back.append(app.wait_for(f"step {step}/{steps} ", since=sent) - sent)
    finally:
        app.close()
    return forward[1:], back  # the first step also loads the policy


def latency_line(what: str, latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=20)
    return (f"{what}: p50 {1000 * statistics.median(latencies):.1f} ms, p95 {1000 * cuts[18]:.1f} ms, "
            f"max {1000 * max(latencies):.1f} ms over {len(latencies)} presses (goal p95 <= 50 ms)")


def growth_per_million(memory: list[tuple[int, float]]) -> float:
    """MB per million frames: the least-squares slope of RSS over frames, after the first third."""
    samples = memory[len(memory) // 3 :]
    if len(samples) < 3:
        return float("nan")
    frames = [f for f, _ in samples]
    rss = [m for _, m in samples]
    slope = statistics.linear_regression(frames, rss).slope
    return slope * 1_000_000


def replayed_growth(preset: str) -> tuple[float, float, int]:
    """RSS (MB) before and after one million frames of events go through the Train screen, in a
    fresh process so nothing else of this script counts."""
    code = (
        f"import asyncio, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
        f"from ui import replay_million_frames; print(*asyncio.run(replay_million_frames({preset!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, batches = out.stdout.split()[-3:]
    return float(before), float(after), int(batches)


def rss_self_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def replay_million_frames(preset: str) -> tuple[float, float, int]:
    """Feed the Train screen one million frames of events, as a trainer at the preset's batch size
    sends them, through its real events reader; returns RSS before / after and the batch count."""
    import math

    from tui_rl.config import load_preset
    from tui_rl.engine.runs.lineage import Lineage
    from tui_rl.engine.protocol import Evaluated, Metrics, StatusChanged
    from tui_rl.engine.runs.folder import RunHistory, RunSummary
    from tui_rl.tui.app import TuiRlApp

    config = load_preset(preset)
    batch = config.collector.frames_per_batch
    batches = 1_000_000 // batch
    total = batches * batch

    class ReplayHandle:
        """Stands in for a trainer connection: a long run's events, about 1000 a second."""

        name, run_dir, process = "replay", Path("replay"), None

        def __init__(self) -> None:
            self.is_live = True

        def history(self) -> RunHistory:
            return RunHistory(self.run_dir, RunSummary("replay", self.run_dir, total_frames=total))

        def events(self, timeout=None):
            yield StatusChanged("running", total_frames=total, seq=1)
            for i in range(1, batches + 1):
                time.sleep(0.001)
                values = {"episode_return": 100 + 50 * math.sin(i / 50), "episode_length": 100.0,
                          "loss_qvalue": 1 / i, "epsilon": 0.05, "fps": 2_000.0, "lr": 1e-3}
                yield Metrics(values, seq=i + 1, frames=i * batch)
                if i % 40 == 0:
                    yield Evaluated(120.0, 5.0, 10, seq=i + 1, frames=i * batch)
            self.is_live = False
            yield StatusChanged("finished", total_frames=total, seq=batches + 2, frames=total)

        def send(self, command) -> None:
            pass

        def close(self) -> None:
            self.is_live = False

    app = TuiRlApp(config, preset_name=preset, runs_dir=Path(tempfile.mkdtemp()))
    async with app.run_test(size=SIZE) as pilot:
        await app.switch_mode("train")
        train = app.screen
        await app.workers.wait_for_complete()  # the setup screen's env probe loads torch: not ours
        await pilot.pause(1.0)
        before = rss_self_mb()
        handle = ReplayHandle()
        train.post_message(train.RunOpened(handle, None, handle.history(), Lineage()))  # no branches
        while train.state != "finished":
            await pilot.pause(0.25)
        await pilot.pause(1.0)  # a last chart redraw
        after = rss_self_mb()
    return before, after, batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cartpole-dqn")
    parser.add_argument("--frames", type=int, default=20_000, help="frames per run compared with headless")
    parser.add_argument("--rounds", type=int, default=3, help="headless / app pairs")
    parser.add_argument("--long-frames", type=int, default=200_000, help="frames of the memory run")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS, help="measure only these (default: all)")
    args = parser.parse_args()

    from tui_rl.config import apply_overrides, load_preset, save_file

    workdir = Path(tempfile.mkdtemp(prefix="tui-rl-ui-bench-"))
    runs_dir = workdir / "runs"

    def preset_file(name: str, overrides: list[str]) -> Path:
        path = workdir / f"{name}.toml"
        save_file(apply_overrides(load_preset(args.preset), overrides), path)
        return path

    # Evaluations only at the end and no target: every run trains its whole budget.
    quiet = ["eval.target_return=none"]
    compared = preset_file(args.preset, [f"collector.total_frames={args.frames}", f"eval.every_frames={args.frames}", *quiet])

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    if "paint" in args.only:
        first_paint_figures(compared, workdir)
    if "waits" in args.only:
        wait_figures(compared, runs_dir, workdir)
    if "branch" in args.only:
        parent = preset_file("parent", ["collector.total_frames=1000000", "checkpoint.every_frames=1", *quiet])
        branch_figures(parent, runs_dir, workdir)
    if "attached" in args.only:
        attached_figures(compared, runs_dir, workdir, args)
    if "keys" in args.only:
        keys = AppRun(compared, runs_dir, workdir).train(press_keys=True)
        print(latency_line("key press to screen while training at full speed", keys.latencies))
    if "inspector" in args.only:
        forward, back = inspector_steps(compared, workdir)
        print(latency_line("inspector, live policy step (p)", forward))
        print(latency_line("inspector, step back (left arrow)", back))
    if "memory" in args.only:
        # Many batches a second (one update per batch) so a long run's events arrive in minutes.
        long = preset_file("long", [f"collector.total_frames={args.long_frames}", "algorithm.updates_per_batch=1",
                                    f"eval.every_frames={args.long_frames // 10}", "eval.episodes=2", *quiet])
        memory_figures(long, runs_dir, workdir, args)
    print(f"load average {os.getloadavg()[0]:.2f} at the end (other jobs on the machine move every wall-clock figure)")
    return 0


def median_line(what: str, values: list[float], goal: str = "") -> str:
    return (f"{what}: {statistics.median(values):.2f} s (median of {len(values)}: "
            f"{', '.join(f'{v:.2f}' for v in values)}){f'; goal {goal}' if goal else ''}")


def first_paint_figures(compared: Path, workdir: Path) -> None:
    # Alternated, so the three see the same load from the rest of the machine.
    paints, hellos, imports = [], [], []
    for _ in range(3):
        paints.append(first_paint(compared, workdir))
        hellos.append(hello_world_paint(workdir))
        imports.append(import_torchrl())
    ratio = statistics.median(paints) / statistics.median(hellos)
    print(median_line("first paint of tui-rl", paints) + f"; {ratio:.1f}x the hello-world (goal <= 1.5x)")
    print(median_line("first paint of a hello-world Textual app", hellos))
    print(median_line("python -c 'import torchrl'", imports))


def wait_figures(compared: Path, runs_dir: Path, workdir: Path) -> None:
    from tui_rl.engine.envs.registry_cache import listed_env_groups

    listed_env_groups()  # the env list is cached, as after any earlier launch
    rounds = [waits_to_train(compared, runs_dir, workdir) for _ in range(3)]
    paint, complete, running, point = (list(column) for column in zip(*rounds))
    print(f"at {WAIT_SIZE[0]}x{WAIT_SIZE[1]}, the env list cached by an earlier launch:")
    print(median_line("  first paint", paint))
    print(median_line("  Setup complete (env list and specs shown) after the first paint", complete, "<= 1.0 s"))
    print(median_line("  s to RUNNING", running, "<= 1.5 s"))
    print(median_line("  s to the first chart point", point, "<= 2.5 s"))


def branch_figures(parent_preset: Path, runs_dir: Path, workdir: Path) -> None:
    parent = stopped_parent(parent_preset, runs_dir)
    rounds = [branch_wait(parent, runs_dir, workdir) for _ in range(3)]
    dialog, running = (list(column) for column in zip(*rounds))
    total = [d + r for d, r in rounds]
    print(f"branch from the Runs screen ({WAIT_SIZE[0]}x{WAIT_SIZE[1]}; the time in the dialog left out):")
    print(median_line("  b to the branch dialog", dialog))
    print(median_line("  its confirmation to the child's RUNNING", running))
    print(median_line("  branch key to the child's RUNNING", total, "<= 2 s"))


def attached_figures(compared: Path, runs_dir: Path, workdir: Path, args: argparse.Namespace) -> None:
    # Each round's two runs are next to each other in time, so their ratio sees the same load
    # from the rest of the machine; the figure is the median of the rounds' ratios.
    ratios = []
    for round_ in range(args.rounds):
        headless = train_headless(compared, runs_dir)
        run = AppRun(compared, runs_dir, workdir).train()
        ratios.append(run.fps / headless)
        print(f"round {round_ + 1}: {args.preset} {args.frames:,} frames: headless {headless:,.0f} frames/s, "
              f"app attached {run.fps:,.0f} frames/s (ratio {ratios[-1]:.3f}); "
              f"app CPU {100 * run.app_cpu:.1f}% of a core")
    print(f"training frames/s, app attached / headless: {statistics.median(ratios):.3f} "
          f"(median of {args.rounds} rounds; goal >= 0.95)")


def memory_figures(long: Path, runs_dir: Path, workdir: Path, args: argparse.Namespace) -> None:
    memory = AppRun(long, runs_dir, workdir).train().memory
    print(f"app memory while attached to a {args.long_frames:,}-frame run (updates_per_batch=1): "
          f"RSS {memory[0][1]:.0f} -> {memory[-1][1]:.0f} MB; growth after the first third "
          f"{growth_per_million(memory):+.1f} MB per million frames (goal <= 20)")
    before, after, batches = replayed_growth(args.preset)
    print(f"app memory over 1,000,000 replayed frames ({batches:,} batches of events through the Train screen): "
          f"{after - before:+.1f} MB (RSS {before:.0f} -> {after:.0f} MB; goal <= 20)")


if __name__ == "__main__":
    sys.exit(main())
