"""Snapshots of the Setup screen's tabs and of the help screen, at 80x24 and 160x48.

Each picture is taken once the background work is done (the env registry read, the specs probed),
so it is the same on every run. The config is the model's defaults (CartPole, DQN), not a shipped
preset, so retuning a preset does not change the pictures.
"""

from __future__ import annotations

import pytest

from tui_rl.config import RunConfig
from tui_rl.tui.app import TuiRlApp

SIZES = {"small": (80, 24), "large": (160, 48)}


def make_app() -> TuiRlApp:
    return TuiRlApp(RunConfig(description="CartPole with DQN"), preset_name="defaults")


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def on_tab(tab: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.screen.show_tab(tab)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", ["tab-env", "tab-policy", "tab-hparams"])
def test_setup_tabs(snap_compare, tab, size):
    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=on_tab(tab))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, size):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=run_before)
