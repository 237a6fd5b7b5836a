"""A user's own env, named in env.id without registering it: a file in the folder tui-rl runs in
(``corridor.py:Corridor``), a module (``package.module:Name``, the current folder searched after the
installed packages), or ids a module registers (``env.imports``). The commands that build the env
say which code they import; the ones that only read runs never import it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import importers, needs, renderable_text, settle, shadowing_gymnasium, until
from helpers import state_of
from textual.widgets import OptionList

from tui_rl.cli import main
from tui_rl.config import apply_overrides, load_preset, validate
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.run.preflight import check_collector
from tui_rl.engine.runs.folder import read_history
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.spec_view import SpecView

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "corridor.py"
#: a short PPO run of cartpole-ppo's settings
SHORT = ["--frames", "512", "--set", "collector.frames_per_batch=128", "--set", "eval.episodes=2"]


@pytest.fixture
def work(tmp_path, monkeypatch):
    """The user's folder, holding the README's example env; the current folder of the test."""
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "corridor.py")
    monkeypatch.chdir(folder)
    return folder


def test_the_readme_example_trains_headless_from_a_file_in_the_current_folder(work, runs_dir, capsys):
    code = main(["train", "cartpole-ppo", "--set", "env.id=corridor.py:Corridor", "--set", "env.kwargs={length = 4}",
                 *SHORT, "--name", "mine", "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    history = read_history(runs_dir / "mine")
    assert code == 0 and history.summary.status == "finished", err
    assert f"the env runs your code: importing {work / 'corridor.py'}" in err
    assert history.metrics["episode_return"], "episodes of the corridor ended and were logged"


def test_a_module_in_the_current_folder_is_found_after_the_installed_packages(work, runs_dir):
    (work / "mazes.py").write_text("from corridor import Corridor\n\ndef short():\n    return Corridor(length=3)\n")
    shadowing_gymnasium(work, work.parent / "imported")
    result = subprocess.run(  # a fresh process, as `tui-rl` starts: python -P, the folder not on sys.path
        [sys.executable, "-P", "-m", "tui_rl.cli", "train", "cartpole-ppo", "--set", "env.id=mazes:short",
         *SHORT, "--name", "module", "--runs-dir", str(runs_dir)],
        cwd=work, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "importing mazes" in result.stderr
    assert importers(work.parent / "imported") == [], "the folder's gymnasium.py never stood in for Gymnasium"


def test_ids_a_module_registers_are_made_after_env_imports(work):
    (work / "registering.py").write_text(
        "import gymnasium\ngymnasium.register('TuiRlTest/Corridor-v7', entry_point='corridor:Corridor', "
        "kwargs={'length': 7})\n")
    env = make_env(validate({"env": {"id": "TuiRlTest/Corridor-v7", "imports": ["registering"]}}))
    try:
        rollout = env.rollout(40, lambda td: td.set("action", env.action_spec.one()))  # always right
    finally:
        env.close()
    assert rollout["next", "done"].nonzero()[0, 0].item() == 6, "the goal is 7 steps away"


def test_gymnasiums_own_module_form_is_kept(work):
    (work / "registers_three.py").write_text(
        "import gymnasium\ngymnasium.register('Corridor-v3', entry_point='corridor:Corridor', kwargs={'length': 3})\n")
    env = make_env(validate({"env": {"id": "registers_three:Corridor-v3"}}))
    try:
        assert env.rollout(10, lambda td: td.set("action", env.action_spec.one()))["next", "done"].any()
    finally:
        env.close()


@pytest.mark.parametrize("env_id, files, said", [
    ("nosuch.py:Corridor", {}, "env.id: cannot find nosuch.py (a file in env.id is read relative to the folder"),
    ("broken.py:Corridor", {"broken.py": "raise RuntimeError('boom')\n"}, "loading {work}/broken.py failed: RuntimeError: boom"),
    ("corridor.py:Hallway", {}, "env.id: corridor.py has no Hallway"),
    ("constants.py:LENGTH", {"constants.py": "LENGTH = 3\n"}, "constants.py:LENGTH is a int: name a gymnasium.Env subclass"),
    ("nosuchmodule:Corridor", {}, "env.id: cannot import nosuchmodule: No module named 'nosuchmodule'"),
    ("raising.py:make", {"raising.py": "def make():\n    raise ValueError('no track')\n"}, "cannot make 'raising.py:make': no track"),
])
def test_code_that_cannot_make_an_env_is_refused_before_a_run_folder_exists(work, runs_dir, capsys, env_id, files, said):
    for name, text in files.items():
        (work / name).write_text(text)
    code = main(["train", "cartpole-ppo", "--set", f"env.id={env_id}", *SHORT, "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert code == 2 and said.format(work=work) in err, err
    assert "Traceback" not in err and not runs_dir.exists()


def test_ray_workers_are_not_sent_code_only_this_folder_has(work, runs_dir, capsys):
    needs("ray", "ray")
    code = main(["train", "cartpole-ppo", "--set", "env.id=corridor.py:Corridor", "--set", "collector.backend=ray",
                 *SHORT, "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "collector.backend: Ray workers may run in another folder" in err and "corridor.py" in err
    absolute = validate({"env": {"id": f"{work / 'corridor.py'}:Corridor"}, "collector": {"backend": "ray"}})
    check_collector(absolute)  # a path any worker on this machine finds: let through


def test_listing_and_showing_runs_never_import_the_users_code(work, runs_dir, capsys):
    (work / "watched.py").write_text(  # leaves a mark each time it is imported
        "import os, pathlib\nfrom corridor import Corridor\n"
        "pathlib.Path('marks', str(os.getpid())).write_text('imported')\n")
    (work / "marks").mkdir()
    assert main(["train", "cartpole-ppo", "--set", "env.id=watched.py:Corridor", *SHORT, "--name", "watched",
                 "--runs-dir", str(runs_dir)]) == 0
    for mark in (work / "marks").iterdir():
        mark.unlink()
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    assert main(["runs", "show", "watched", "--runs-dir", str(runs_dir)]) == 0
    assert "watched.py:Corridor" in capsys.readouterr().out
    assert list((work / "marks").iterdir()) == []


async def test_the_app_trains_a_file_typed_in_the_env_search(work, runs_dir):
    config = apply_overrides(load_preset("cartpole-ppo"), ["collector.total_frames=512",
                                                           "collector.frames_per_batch=128", "eval.episodes=2"])
    app = TuiRlApp(config, preset_name="cartpole-ppo", runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"corridor.py:Corridor", "enter")
        await until(pilot, lambda: app.config.env.id == "corridor.py:Corridor", what="the typed id taken")
        spec_view = app.screen.query_one(SpecView)
        await until(pilot, lambda: "your code" in renderable_text(spec_view.content), what="the spec probe")
        assert str(work / "corridor.py") in renderable_text(spec_view.content)
        await pilot.press("s")
        await until(pilot, lambda: state_of(app) == "finished", what="the run to finish")
    assert read_history(app.current_run_dir).metrics["episode_return"]


@pytest.mark.parametrize("module, code, listed", [
    ("registering_v9", "import gymnasium\ngymnasium.register('TuiRlTest/Corridor-v9', entry_point='corridor:Corridor')\n",
     "TuiRlTest/Corridor-v9"),
    ("registering_broken", "raise RuntimeError('the maze generator is missing')\n",
     "env.imports: importing registering_broken failed: RuntimeError: the maze generator is missing"),
])
async def test_the_env_list_starts_with_the_ids_your_modules_register(work, runs_dir, module, code, listed):
    (work / f"{module}.py").write_text(code)
    config = apply_overrides(load_preset("cartpole-ppo"), [f"env.imports=['{module}']"])
    app = TuiRlApp(config, preset_name="cartpole-ppo", runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        options = app.screen.query_one("#env-list", OptionList)
        await until(pilot, lambda: options.option_count > 2, what="the env list")
        prompts = [str(options.get_option_at_index(i).prompt).strip() for i in range(3)]
    assert prompts[:2] == ["Your envs", listed], prompts
