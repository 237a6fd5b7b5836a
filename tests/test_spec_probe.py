"""The Setup screen's specs of an env are probed once and kept on disk: the next open of the same
env (id, kwargs, transforms) with the same installed packages reads them back at once; another
env, other versions, a failed probe or an env of the user's own code are probed anew."""

from __future__ import annotations

from conftest import tiny_dqn

from tui_rl.engine.envs import spec_probe
from tui_rl.engine.envs.spec_probe import SpecProbe, cache_path, cached_probe, probe_specs, store_probe


def test_a_probe_is_read_back_for_the_same_env_and_versions_only(monkeypatch, own_cache_folder):
    config = tiny_dqn()
    assert cached_probe(config) is None
    probe = probe_specs(config)
    assert probe.kind == "discrete" and probe.inputs == {"observation": (4,)} and not probe.error
    store_probe(config, probe)
    assert cache_path(config).is_relative_to(own_cache_folder)
    assert cached_probe(config) == probe
    assert cached_probe(tiny_dqn("env.kwargs={sutton_barto_reward = true}")) is None, "other kwargs, another probe"
    assert cached_probe(tiny_dqn("env.id=Acrobot-v1")) is None
    versions = spec_probe.installed_versions()
    monkeypatch.setattr(spec_probe, "installed_versions", lambda: {**versions, "gymnasium": "99.0"})
    assert cached_probe(config) is None, "a probe made with other packages installed"


def test_a_failed_probe_and_the_users_own_env_are_never_kept(tmp_path, monkeypatch):
    unknown = tiny_dqn("env.id=NoSuchEnv-v0")
    failed = probe_specs(unknown)
    assert failed.kind is None and "NoSuchEnv-v0" in failed.error
    store_probe(unknown, failed)
    assert cached_probe(unknown) is None

    (tmp_path / "mine.py").write_text(
        "import gymnasium\nfrom gymnasium.envs.classic_control import CartPoleEnv\n\nclass Mine(CartPoleEnv):\n    pass\n"
    )
    monkeypatch.chdir(tmp_path)
    mine = tiny_dqn("env.id=mine.py:Mine")
    probe = probe_specs(mine)
    assert probe.kind == "discrete" and "mine.py" in probe.specs["your code"]
    store_probe(mine, probe)
    assert cache_path(mine) is None and cached_probe(mine) is None, "its file may change under the same id"


def test_a_cached_file_that_is_not_a_probe_is_ignored(own_cache_folder):
    config = tiny_dqn()
    path = cache_path(config)
    path.parent.mkdir(parents=True)
    for text in ("{", '{"kind": 3, "specs": {}, "error": "", "inputs": null}', "[]"):
        path.write_text(text)
        assert cached_probe(config) is None
    assert SpecProbe.from_json(probe_specs(config).to_json()) == probe_specs(config)
