"""Snapshots of the Setup screen's tabs and of the help screen, at 80x24 and 160x48.

Each picture is taken once the background work is done (the env registry read, the specs probed, the machine looked at),
so it is the same on every run. The config is the model's defaults (CartPole, DQN), not a shipped
preset, so retuning a preset does not change the pictures.
"""

from __future__ import annotations

import pytest
from conftest import settle, until

from tui_rl.config import RunConfig, TransformConfig
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.machine_info import MachineInfo
from tui_rl.tui.widgets.spec_view import SpecView

SIZES = {"small": (80, 24), "large": (160, 48)}
#: a stack for the Transforms tab's picture: one transform with a parameter set, one without
STACK = [
    TransformConfig(name="StepCounter", params={"max_steps": 200}),
    TransformConfig(name="RewardSum"),
]


#: what the machine line says in every picture, whatever machine takes it
MACHINE = "This machine: 2 CPU cores · no GPU · Ray: the ray backend starts a local instance"


@pytest.fixture(autouse=True)
def same_machine(monkeypatch):
    monkeypatch.setattr("tui_rl.engine.run.machine.describe", lambda ray_address: MACHINE)


def make_app(config: RunConfig | None = None) -> TuiRlApp:
    return TuiRlApp(config or RunConfig(description="CartPole with DQN"), preset_name="defaults")


async def settled(pilot) -> None:
    """The background work done: the specs probed (the probe starts after the first paint, so
    waiting for the workers alone can come too early) and the env registry listed."""
    view = pilot.app.screen.query_one(SpecView)
    await until(pilot, lambda: view.kind is not None, what="the specs of CartPole")
    machine = pilot.app.screen.query_one(MachineInfo)
    await until(pilot, lambda: str(machine.render()) == MACHINE, what="the machine line")
    await settle(pilot)


def on_tab(tab: str):
    async def run_before(pilot) -> None:
        await settled(pilot)
        pilot.app.screen.show_tab(tab)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", ["tab-env", "tab-policy", "tab-hparams"])
def test_setup_tabs(snap_compare, tab, size):
    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=on_tab(tab))


@pytest.mark.parametrize("size", SIZES)
def test_transforms_tab(snap_compare, size):
    app = make_app(RunConfig(description="CartPole with DQN", transforms=STACK))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=on_tab("tab-transforms"))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, size):
    async def run_before(pilot) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=run_before)
