"""The env list is cached on disk: the first launch lists the registry and writes it, the next
launch reads it back while the installed packages are the same, and a file written for other
versions, cut short or planted by someone else is ignored (never run) and written anew."""

from __future__ import annotations

import json
import pickle

from conftest import settle, until
from textual.widgets import OptionList

from tui_rl.engine.envs import registry_cache
from tui_rl.engine.envs.gym_registry import EnvGroup
from tui_rl.engine.envs.registry_cache import (
    FILE_NAME,
    cache_folder,
    installed_versions,
    listed_env_groups,
    write_cached,
)
from tui_rl.tui.app import TuiRlApp

CLASSIC = [EnvGroup("classic_control", "Classic control", ["Acrobot-v1", "CartPole-v1"])]


class CountingRegistry:
    """Stands in for reading Gymnasium's registry (seconds), counting how often it is read."""

    def __init__(self, groups: list[EnvGroup]) -> None:
        self.groups, self.reads = groups, 0

    def __call__(self) -> list[EnvGroup]:
        self.reads += 1
        return [EnvGroup(g.name, g.title, list(g.ids), g.missing) for g in self.groups]


def counting_registry(monkeypatch, groups=CLASSIC) -> CountingRegistry:
    registry = CountingRegistry(groups)
    monkeypatch.setattr(registry_cache, "registered_env_groups", registry)
    return registry


def test_the_first_launch_writes_the_list_and_the_next_reads_it_back(monkeypatch, own_cache_folder):
    registry = counting_registry(monkeypatch)
    assert listed_env_groups() == CLASSIC
    path = own_cache_folder / "tui-rl" / FILE_NAME
    assert path.is_file()
    stored = json.loads(path.read_text())
    assert stored["versions"] == installed_versions()
    assert stored["versions"]["gymnasium"] and "tui-rl" in stored["versions"]

    assert listed_env_groups() == CLASSIC
    assert registry.reads == 1  # the second launch read the file, not the registry
    assert not [p for p in path.parent.iterdir() if p.name != FILE_NAME]  # no temporary file left


def test_the_cache_folder_follows_xdg_cache_home_else_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "tui-rl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "tui-rl"


def test_a_list_written_for_other_package_versions_is_listed_anew(monkeypatch):
    registry = counting_registry(monkeypatch)
    listed_env_groups()
    versions = installed_versions()
    monkeypatch.setattr(registry_cache, "installed_versions", lambda: {**versions, "ale-py": "99.0"})
    listed_env_groups()
    listed_env_groups()
    assert registry.reads == 2  # read once for the new versions, then cached for them


def test_a_corrupt_or_foreign_file_is_ignored_never_run_and_replaced(monkeypatch, tmp_path):
    registry = counting_registry(monkeypatch)
    path = cache_folder() / FILE_NAME
    path.parent.mkdir(parents=True)
    marker = tmp_path / "planted"

    class Plant:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    versions = installed_versions()
    wrong_types = {"format": 1, "versions": versions,
                   "groups": [{"name": "x", "title": "x", "ids": "rm -rf", "missing": None}]}
    for content in (
        pickle.dumps(Plant()),  # unpickled, it would create the marker
        b"__import__('pathlib').Path(%r).touch()" % str(marker).encode(),  # evaluated, likewise
        json.dumps({"format": 1, "versions": versions, "groups": CLASSIC[0].ids})[:-7].encode(),  # cut short
        json.dumps(wrong_types).encode(),
        json.dumps(["not", "a", "cache"]).encode(),
    ):
        path.write_bytes(content)
        assert listed_env_groups() == CLASSIC
        assert json.loads(path.read_text())["groups"][0]["ids"] == CLASSIC[0].ids  # written anew
    assert registry.reads == 5
    assert not marker.exists()


def test_a_cache_folder_that_cannot_be_written_only_costs_the_listing(monkeypatch, tmp_path):
    registry = counting_registry(monkeypatch)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file where the folder would be
    assert listed_env_groups() == CLASSIC
    assert listed_env_groups() == CLASSIC
    assert registry.reads == 2


async def test_the_app_shows_the_env_list_from_the_cache():
    # An id the registry does not hold: it can only have come from the file.
    write_cached(cache_folder() / FILE_NAME, installed_versions(),
                 [EnvGroup("classic_control", "Classic control", ["CachedPole-v0", "CartPole-v1"])])
    app = TuiRlApp()
    async with app.run_test(size=(80, 24)) as pilot:
        env_list = app.screen.query_one("#env-list", OptionList)
        await until(pilot, lambda: env_list.option_count > 1, what="the env list")
        assert [option.id for option in env_list.options if option.id] == ["CachedPole-v0", "CartPole-v1"]
        assert env_list.highlighted_option.id == "CartPole-v1"
        await settle(pilot)
