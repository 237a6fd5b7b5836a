"""TD3 in the app: the Policy tab's picker offers it for continuous actions (the picker derives
from the registry), and choosing it brings its own hyperparameters into the form."""

from __future__ import annotations

from conftest import settle, until, words_on_screen

from tui_rl.tui.app import TuiRlApp

SMALL = (80, 24)


async def test_td3_is_offered_on_pendulum_and_picked_with_its_fields():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")  # the Policy tab on CartPole
        await until(pilot, lambda: getattr(app.focused, "id", None) == "algorithm-set")
        assert app.screen.query_one("#algorithm-td3").disabled  # CartPole's actions are discrete
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.press("slash", *"Pendulum", "enter")
        await settle(pilot)
        await until(pilot, lambda: app.config.algorithm.name == "ddpg", what="the switch to DDPG")
        await pilot.press("escape", "right_square_bracket", "right_square_bracket")  # the Policy tab
        await until(pilot, lambda: getattr(app.focused, "id", None) == "algorithm-set")
        assert "TD3 Twin Delayed DDPG" in words_on_screen(app)
        await pilot.click("#algorithm-td3")
        await until(pilot, lambda: app.config.algorithm.name == "td3", what="the switch to TD3")
        assert app.config.algorithm.gamma == 0.98  # DDPG's tuned value carried over
        await pilot.press("right_square_bracket")  # the hyperparameters
        await pilot.pause()
        assert app.screen.query_one("#field-algorithm-policy-delay").value == "2"
        assert app.screen.query_one("#field-algorithm-target-noise").value == "0.2"
