"""Starting a seed group from the app (S): the same path as ``tui-rl train FILE --seeds ...``, run
as a detached process (its own session) so the group trains on after the app closes. The config
and that process's output go to ``<runs>/.seed-groups/<name>.{toml,log}``."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from tui_rl.config import RunConfig, save_file
from tui_rl.engine.python_command import python_module
from tui_rl.engine.runs.record import default_run_name, make_runs_dir
from tui_rl.engine.run.seed_runs import default_parallel

GROUPS_DIR = ".seed-groups"
#: the app's task under way (tui/under_way.py) from S to the group's processes started
SEEDS_TASK = "seeds"


def start_seed_group(config: RunConfig, seeds: list[int], runs_dir: Path, preset: str) -> str:
    """Start training ``config`` once per seed; returns the group's name stem (runs ``<stem>-seedN``)."""
    make_runs_dir(Path(runs_dir))
    folder = Path(runs_dir) / GROUPS_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    stem = default_run_name(config, preset)
    config_file = folder / f"{stem}.toml"
    save_file(config, config_file)
    command = python_module(
        "tui_rl.cli", "train", str(config_file), "--seeds", *map(str, seeds),
        "--name", stem, "--parallel", str(default_parallel(len(seeds))), "--runs-dir", str(runs_dir),
    )
    with open(folder / f"{stem}.log", "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    return stem


def ask_and_start(app) -> None:
    """Ask for the seeds, check the app's config builds (in the spare trainer, from a thread), start the
    group, show Runs."""
    from tui_rl.tui.screens.seeds.dialog import SeedsScreen

    def start(seeds: list[int]) -> None:
        from tui_rl.config import ConfigError
        from tui_rl.engine.channel.warm_trainers import check_in_spare, put_back

        try:
            config = app.config
            put_back(check_in_spare(config, app.runs_dir))  # the checks run in the spare trainer, not here
            stem = start_seed_group(config, seeds, app.runs_dir, app.run_preset(config))
        except (ConfigError, OSError, ValueError, RuntimeError) as exc:
            app.call_from_thread(app.notify, f"Cannot start: {exc}", title="Seed group", severity="error", markup=False)
            return
        finally:
            app.under_way.end(SEEDS_TASK)
        app.call_from_thread(app.notify, f"Training {stem} with seeds {' '.join(map(str, seeds))}.",
                             title="Seed group", markup=False)
        app.call_from_thread(app.switch_mode, "runs")

    def chosen(seeds: list[int] | None) -> None:
        if seeds:
            app.run_worker(lambda: start(seeds), thread=True, group="seeds", exit_on_error=False)
        else:
            app.under_way.end(SEEDS_TASK)

    if not app.refuses_invalid_setup() and app.under_way.begin(SEEDS_TASK, "Starting a seed group of the setup"):
        app.push_screen(SeedsScreen(), chosen)
