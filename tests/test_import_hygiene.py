"""The layers import in one direction: config never loads torch or textual, the engine never loads
textual, and the modules the app imports before its first paint never load torch."""

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
    "tui_rl.engine.runfolder",
    "tui_rl.engine.transforms",
    "tui_rl.engine.gym_registry",
    "tui_rl.engine.rollouts",
    "tui_rl.cli",
]


@pytest.mark.parametrize("module", TORCH_FREE_ENGINE_MODULES)
def test_modules_loaded_before_first_paint_never_load_torch(module):
    assert "torch" not in loaded_after_import(module)
