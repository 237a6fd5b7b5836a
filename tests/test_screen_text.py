"""What the Pilot tests read as the screen: the text of Textual's own SVG screenshot, its one public
picture of the screen. ``screen_text`` reads it faster from Textual's compositor, and falls back to
the screenshot where a Textual release has moved that; both readings must agree."""

from __future__ import annotations

from types import SimpleNamespace

from conftest import screen_text, screenshot_text, settle, until

from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.help import HelpScreen
from tui_rl.tui.screens.train.screen import TrainScreen


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


async def test_the_screen_read_fast_is_the_public_screenshots_text():
    app = TuiRlApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: "CartPole-v1" in screen_text(app), what="the Setup screen")
        for step in ("setup", "2", "question_mark"):  # Setup, Train, and Help over Train
            if step != "setup":
                await pilot.press(step)
                await settle(pilot)
            svg = app.export_screenshot()
            assert lines(screen_text(app)) == lines(screenshot_text(svg, *app.size)), step
        assert isinstance(app.screen, HelpScreen) and isinstance(app.screen_stack[-2], TrainScreen)


async def test_without_textuals_compositor_the_screen_is_read_from_the_screenshot():
    app = TuiRlApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "CartPole-v1" in screen_text(app), what="the Setup screen")
        # an app as a later Textual might make it: the screen keeps no _compositor
        upgraded = SimpleNamespace(size=app.size, screen=SimpleNamespace(), export_screenshot=app.export_screenshot)
        text = screen_text(upgraded)
        assert "CartPole-v1" in text and lines(text) == lines(screen_text(app))
