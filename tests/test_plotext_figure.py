"""Charts are drawn from plotext's matrices (not through its ANSI output): every cell must still be
what plotext itself would print, character and colour, for each kind of figure the app draws."""

from __future__ import annotations

import math

import pytest
from plotext._figure import _figure_class
from rich.text import Text

from tui_rl.config import RunConfig
from tui_rl.engine.protocol import Metrics
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.charts import CHARTS
from tui_rl.tui.widgets.plotext_figure import figure_text


def cells(text: Text) -> list[list[tuple[str, str]]]:
    """Each line's (character, style) pairs; trailing empty lines left out."""
    lines = []
    for line in text.split("\n"):
        styles = [""] * len(line.plain)
        for span in line.spans:
            for index in range(span.start, span.end):
                styles[index] = str(span.style)
        lines.append(list(zip(line.plain, styles)))
    while lines and not lines[-1]:
        lines.pop()
    return lines


def noisy(n: int) -> list[float]:
    return [(i * 7919) % 13 for i in range(n)]


def line_and_dots():
    figure = _figure_class()
    figure.plotsize(70, 16)
    figure.title("Episode return")
    xs = list(range(0, 6000, 100))
    figure.scatter(xs, noisy(len(xs)), label="raw", marker="braille", color="cyan")
    figure.plot(xs, [math.sin(x / 900) * 5 + 6 for x in xs], label="mean of 20", marker="braille", color="orange")
    figure.vertical_line(3000, color="gray")
    figure.text("▏lr=0.001", 3000, 12, color="gray", alignment="left")
    return figure


def markers_without_colour():
    figure = _figure_class()
    figure.plotsize(50, 12)
    figure.plot([1, 2, 3, 4], [4, 1, 3, 2], marker="+", label="a")
    figure.plot([1, 2, 3, 4], [1, 2, 3, 4], marker="x", label="b")
    return figure


def rgb_theme_and_empty():
    figure = _figure_class()
    figure.plotsize(40, 10)
    figure.canvas_color((30, 30, 46))
    figure.axes_color((30, 30, 46))
    figure.ticks_color((205, 214, 244))
    figure.xticks([])
    figure.yticks([])
    figure.text("no data yet", 0.5, 0.5, alignment="center")
    return figure


@pytest.mark.parametrize("make", [line_and_dots, markers_without_colour, rgb_theme_and_empty])
def test_a_figure_is_drawn_cell_for_cell_as_plotext_prints_it(make):
    drawn = figure_text(make())
    printed = Text.from_ansi(make().build())
    assert cells(drawn) == cells(printed)
    assert any(style for line in cells(drawn) for _, style in line), "no colour was drawn"


async def test_the_live_charts_in_the_apps_theme_are_what_plotext_prints():
    app = TuiRlApp(RunConfig())
    async with app.run_test(size=(100, 40)) as pilot:
        await app.switch_mode("train")
        await pilot.pause()
        screen = app.screen
        for episode, value in enumerate(noisy(200), start=1):
            screen.view.apply(Metrics({"episode_return": value, "loss_qvalue": 1 / episode, "fps": 900.0 + value},
                                      seq=episode, frames=episode * 64))
        for spec in CHARTS[:3]:
            screen.charts.select(spec)
            await pilot.pause()
            chart = screen.charts.viewer
            drawn = chart.render()
            assert spec.title in drawn.plain
            assert cells(drawn) == cells(Text.from_ansi(chart.plt.build()))
