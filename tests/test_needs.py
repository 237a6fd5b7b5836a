"""``needs``: a missing extra skips a test locally and fails it under CI."""

from __future__ import annotations

import pytest
from _pytest.outcomes import Failed, Skipped

from conftest import needs


def test_needs_returns_a_module_that_is_there():
    import json

    assert needs("json", "test") is json


def test_needs_finds_a_program_on_path():
    assert needs("sh", "test").endswith("/sh")


def test_missing_module_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped) as skipped:
        needs("no_such_module_tui_rl", "atari")
    assert "pip install 'tui-rl[atari]'" in str(skipped.value)


def test_missing_module_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(Failed) as failed:
        needs("no_such_module_tui_rl", "minatar")
    assert "pip install 'tui-rl[minatar]'" in str(failed.value)
