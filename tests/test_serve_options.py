"""`tui-rl serve`'s options refused up front, naming the option, before anything listens (the
server itself is tested in test_serve_e2e.py)."""

from __future__ import annotations

import pytest
from conftest import needs

from tui_rl.cli import main


@pytest.mark.parametrize(("args", "token_env", "named"), [
    (["--token", "short"], None, "--token"),
    ([], "a token with spaces", "TUI_RL_SERVE_TOKEN"),
    (["--max-sessions", "0"], None, "--max-sessions"),
    (["--public-url", "ftp://example.org"], None, "--public-url"),
])
def test_a_bad_serve_option_exits_2_naming_it(args, token_env, named, tmp_path, monkeypatch, capsys):
    needs("textual_serve", "serve")
    if token_env is None:
        monkeypatch.delenv("TUI_RL_SERVE_TOKEN", raising=False)
    else:
        monkeypatch.setenv("TUI_RL_SERVE_TOKEN", token_env)
    assert main(["serve", *args, "--runs-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"tui-rl: {named}: ")
