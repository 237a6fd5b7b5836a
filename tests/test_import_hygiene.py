"""The layers import in one direction: config never loads torch or textual, the engine never loads
textual, and the modules the app imports before its first paint never load torch."""

import ast
import atexit
import functools
import os
import subprocess
import sys
import tempfile
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


#: Imports each module named on its command line in a child forked from one interpreter, so every
#: module starts from the same state (no module imported earlier can mask what a later one loads)
#: while the third-party packages named first are imported once, not once per module.
FORK_SERVER = """
import os, sys
forbidden, preloaded, modules = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
for name in preloaded:
    __import__(name)
assert forbidden not in sys.modules, f"{forbidden} is loaded by the preloaded {preloaded}"
for module in modules:
    sys.stdout.flush()
    if os.fork() == 0:
        try:
            __import__(module)
            print(module + "\t" + " ".join(sorted(sys.modules)), flush=True)
        except BaseException as error:
            print(module + "\t!" + repr(error), flush=True)
        os._exit(0)
    os.wait()
"""

#: what the engine loads anyway (its checks are for textual) and what the app loads anyway (its
#: checks are for torch): imported once by the fork server
PRELOADED = {
    "textual": ["numpy", "gymnasium", "torch", "tensordict.nn", "torchrl.envs", "torchrl.collectors",
                "torchrl.data", "torchrl.modules", "torchrl.objectives"],
    "torch": ["textual.app", "textual.widgets", "rich"],
}


class ForkServer:
    """A running :data:`FORK_SERVER` for the checks that look for ``forbidden``; its reports are
    read as the tests ask for them, so no test waits for the imports of the tests after it."""

    def __init__(self, forbidden: str) -> None:
        self.errors = tempfile.TemporaryFile("w+")  # a pipe nobody reads could fill and stop the server
        self.process = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER, forbidden, ",".join(PRELOADED[forbidden]), *CHECKED_FOR[forbidden]],
            stdout=subprocess.PIPE, stderr=self.errors, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},  # a forked child of a threaded torch can hang
        )
        atexit.register(self.process.kill)
        self.reports: dict[str, str] = {}

    def loaded_by(self, module: str) -> set[str]:
        """The modules loaded once ``module`` is imported (besides the preloaded, all by it)."""
        while module not in self.reports:
            line = self.process.stdout.readline()
            if not line:
                self.errors.seek(0)
                raise AssertionError(f"no report on {module}: {self.errors.read()[-2000:]}")
            name, _, report = line.rstrip("\n").partition("\t")
            self.reports[name] = report
        report = self.reports[module]
        assert not report.startswith("!"), f"importing {module} failed: {report[1:]}"
        return set(report.split())


@functools.cache
def fork_server(forbidden: str) -> ForkServer:
    return ForkServer(forbidden)


def loaded_after_import(module: str, forbidden: str) -> set[str]:
    return fork_server(forbidden).loaded_by(module)


@pytest.mark.parametrize("module", modules_in("engine") + modules_in("config"))
def test_engine_and_config_never_load_textual(module):
    assert "textual" not in loaded_after_import(module, "textual")


@pytest.mark.parametrize("module", modules_in("config"))
def test_config_never_loads_torch(module):
    assert "torch" not in loaded_after_import(module, "torch")


# The app imports these before its first paint.
TORCH_FREE_ENGINE_MODULES = [
    "tui_rl.engine.protocol",
    "tui_rl.engine.channel.handle",
    "tui_rl.engine.channel.framing",
    "tui_rl.engine.channel.launch",
    "tui_rl.engine.runs.liveness",
    "tui_rl.engine.run.stop_signals",
    "tui_rl.engine.runs.counters",
    "tui_rl.engine.runs.folder",
    "tui_rl.engine.envs.transforms",
    "tui_rl.engine.envs.gym_registry",
    "tui_rl.engine.envs.registry_cache",
    "tui_rl.engine.envs.spec_probe",
    "tui_rl.engine.envs.agent_group",
    "tui_rl.engine.channel.warm_trainers",
    "tui_rl.engine.inspect.rollouts",
    "tui_rl.engine.envs.families",
    "tui_rl.engine.envs.observation_image",
    "tui_rl.engine.envs.transform_params",
    "tui_rl.engine.search.space",
    "tui_rl.engine.search.study",
    "tui_rl.engine.search.view",
    *(name for name in modules_in("cli") if not name.endswith("__main__")),  # __main__ runs the CLI
]


@pytest.mark.parametrize("module", TORCH_FREE_ENGINE_MODULES)
def test_modules_loaded_before_first_paint_never_load_torch(module):
    assert "torch" not in loaded_after_import(module, "torch")


@pytest.mark.parametrize("module", modules_in("tui"))
def test_app_modules_load_no_torch_at_import(module):
    """Screens and widgets import torch inside the functions that need it, after the first paint."""
    assert "torch" not in loaded_after_import(module, "torch")


#: every module each fork server imports, by the package its checks look for
CHECKED_FOR = {
    "textual": modules_in("engine") + modules_in("config"),
    "torch": list(dict.fromkeys(modules_in("config") + TORCH_FREE_ENGINE_MODULES + modules_in("tui"))),  # in test order
}


def imported_modules(path: Path) -> set[str]:
    """The tui_rl modules ``path`` imports, at load time, inside functions or for type checkers
    only: a lazy import or an ``if TYPE_CHECKING:`` one that closes a circle is still a circle."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("tui_rl")}


def module_path(name: str) -> Path:
    path = PACKAGE.parent / (name.replace(".", "/") + ".py")
    return path if path.exists() else PACKAGE.parent / name.replace(".", "/") / "__init__.py"


def test_no_import_circles():
    paths = {name: module_path(name) for name in modules_in("")}
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


#: Who may import whom. A module of a package at one level imports only its own package, the levels
#: below it and ``BASE``; packages that share a level never import each other. Lazy imports count.
BASE = {"tui_rl", "tui_rl.config"}
LAYERS = [
    {"tui_rl.engine"},  # the engine's top-level modules: protocol, compat, extras, ...
    {"tui_rl.engine.runs"},
    {"tui_rl.engine.networks"},
    {"tui_rl.engine.envs"},
    {"tui_rl.engine.algorithms"},
    {"tui_rl.engine.policy", "tui_rl.engine.channel"},
    {"tui_rl.engine.run"},
    {"tui_rl.engine.inspect", "tui_rl.engine.search"},
    {"tui_rl.tui"},  # the app's top-level modules
    {"tui_rl.tui.widgets"},
    {"tui_rl.tui.modes"},  # names each mode's screen as a string: imported when first shown
    {"tui_rl.tui.commands"},
    {"tui_rl.tui.screens"},  # the shared dialogs and Help
    {"tui_rl.tui.screens.branch"},
    {f"tui_rl.tui.screens.{name}" for name in ("setup", "train", "seeds", "search", "inspector")},
    {"tui_rl.tui.screens.runs"},  # opens a run into Train
    {"tui_rl.tui.app"},
    {"tui_rl.cli"},
]


def package_of(module: str) -> str:
    """The unit of the order a module belongs to: the longest name in ``LAYERS`` or ``BASE`` that
    is the module or holds it."""
    names = BASE.union(*LAYERS)
    return max((name for name in names if module == name or module.startswith(name + ".")), key=len)


def level_of(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def test_packages_import_only_downwards():
    paths = {name: module_path(name) for name in modules_in("")}
    wrong = []
    for name, path in paths.items():
        source = package_of(name)
        if source in BASE:
            continue
        for imported in imported_modules(path) & set(paths):
            target = package_of(imported)
            if target in BASE or target == source:
                continue
            if level_of(target) >= level_of(source):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "imports against the package order:\n" + "\n".join(sorted(wrong))


def test_the_engine_is_packages_with_few_loose_modules():
    loose = [path.name for path in (PACKAGE / "engine").glob("*.py") if path.name != "__init__.py"]
    assert len(loose) <= 10, loose


def test_every_folder_of_modules_is_a_package_saying_what_it_holds():
    """A folder of modules without an ``__init__.py`` still imports (as a namespace package), so
    nothing else notices one that never says what it holds and what it may import."""
    folders = sorted({path.parent for path in PACKAGE.rglob("*.py")})
    missing = [str(folder.relative_to(PACKAGE)) for folder in folders if not (folder / "__init__.py").exists()]
    assert not missing, f"folders of modules that are not packages: {missing}"
    silent = [str(folder.relative_to(PACKAGE)) for folder in folders
              if not ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))]
    assert not silent, f"packages whose __init__ says nothing of what they hold: {silent}"


RACE = """
import threading
from tui_rl.config import RunConfig
from tui_rl.tui.engine_imports import load_torchrl
errors = []

def probe():  # what the Setup screen's spec probe does
    try:
        load_torchrl()
        from tui_rl.engine.envs.making import make_env
        make_env(RunConfig()).close()
    except Exception as exc:
        errors.append(repr(exc))

def start():  # what Start does first
    try:
        load_torchrl()
        from tui_rl.engine.run.preflight import check_buildable
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
