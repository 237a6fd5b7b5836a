"""The layers import in one direction: config never loads torch or textual, the engine never loads
textual, and the modules the app imports before its first paint never load torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tui_rl"


def modules_in(folder: str) -> list[str]:
    root = PACKAGE / folder
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("module", modules_in("engine") + modules_in("config"))
def test_engine_and_config_never_load_textual(module):
    assert "textual" not in loaded_after_import(module)


@pytest.mark.parametrize("module", modules_in("config"))
def test_config_never_loads_torch(module):
    assert "torch" not in loaded_after_import(module)


# The app imports these before its first paint.
TORCH_FREE_ENGINE_MODULES = [
    "tui_rl.engine.protocol",
    "tui_rl.engine.handle",
    "tui_rl.engine.channel",
    "tui_rl.engine.launch",
    "tui_rl.engine.liveness",
    "tui_rl.engine.stop_signals",
    "tui_rl.engine.counters",
    "tui_rl.engine.runfolder",
    "tui_rl.engine.transforms",
    "tui_rl.engine.gym_registry",
    "tui_rl.engine.rollouts",
    "tui_rl.engine.env_families",
    "tui_rl.engine.observation_image",
    "tui_rl.engine.transform_params",
    "tui_rl.engine.search_space",
    "tui_rl.engine.search_study",
    "tui_rl.engine.search_view",
    *(name for name in modules_in("cli") if not name.endswith("__main__")),  # __main__ runs the CLI
]


@pytest.mark.parametrize("module", TORCH_FREE_ENGINE_MODULES)
def test_modules_loaded_before_first_paint_never_load_torch(module):
    assert "torch" not in loaded_after_import(module)


@pytest.mark.parametrize("module", modules_in("tui"))
def test_app_modules_load_no_torch_at_import(module):
    """Screens and widgets import torch inside the functions that need it, after the first paint."""
    assert "torch" not in loaded_after_import(module)


def imported_modules(path: Path) -> set[str]:
    """The tui_rl modules ``path`` imports, at load time or inside functions (a lazy import that
    closes a circle is still a circle); imports for type checkers only are left out."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("tui_rl")}


def test_no_import_circles():
    paths = {name: PACKAGE.parent / (name.replace(".", "/") + ".py") for name in modules_in("")}
    for name in list(paths):
        if not paths[name].exists():
            paths[name] = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
    graph = {name: imported_modules(path) & set(paths) - {name} for name, path in paths.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return trail + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    circles = [" -> ".join(c) for name in graph if (c := cycle_from(name))]
    assert not circles, "import circles:\n" + "\n".join(circles)


RACE = """
import threading
from tui_rl.config import RunConfig
from tui_rl.tui.engine_imports import load_torchrl
errors = []

def probe():  # what the Setup screen's spec probe does
    try:
        load_torchrl()
        from tui_rl.engine.envs import make_env
        make_env(RunConfig()).close()
    except Exception as exc:
        errors.append(repr(exc))

def start():  # what Start does first
    try:
        load_torchrl()
        from tui_rl.engine.preflight import check_buildable
        check_buildable(RunConfig())
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=probe), threading.Thread(target=start)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors)
"""


def test_two_app_workers_can_load_torchrl_at_once():
    """torchrl's first import is not thread-safe (KeyError: 'torchrl' came out of the app's Start
    while the spec probe imported it); the app's workers load it through one lock."""
    for _ in range(3):  # the race is lost about one time in four without the lock
        result = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=300)
        assert result.stdout.strip() == "[]", result.stdout + result.stderr[-2000:]


FROZEN = """
import gc
from tui_rl.tui.engine_imports import load_torchrl
load_torchrl()
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_torchs_objects_are_kept_out_of_the_apps_garbage_collections():
    """A full collection over torch's and torchrl's objects froze the screen for ~300 ms now and
    then; once loaded they are frozen, so a collection walks only what the app makes after."""
    result = subprocess.run([sys.executable, "-c", FROZEN], capture_output=True, text=True, timeout=300)
    frozen, tracked = map(int, result.stdout.split())
    assert frozen > 100_000 and tracked < frozen / 10, (frozen, tracked)
