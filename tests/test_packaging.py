"""What an install ships: the wheel's builder (hatchling) leaves out every file that .gitignore
names, so a source file the repository tracks but .gitignore matches is missing from
``pip install tui-rl`` while an editable install (``make run``, these tests) still finds it.
``runs/``, meant for the default runs folder, once took ``tui_rl/engine/runs/`` and the Runs screen
out of the wheel."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_no_source_file_of_the_package_is_named_by_gitignore():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to compare .gitignore with")
    ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard", "--", "tui_rl", "presets"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert not ignored, f".gitignore names files the wheel must ship: {ignored}"
