"""Plotext figures drawn straight into rich Text, without the ANSI round trip.

textual-plotext draws a figure by having plotext write it out as ANSI escape codes and decoding
them again with rich (``Text.from_ansi(plt.build())``). For a noisy chart that round trip is
about half of each redraw, and a redraw is what a key press that switches the chart waits for.
:func:`figure_text` reads plotext's character and colour matrices instead and styles each run of
equal cells once; the styles still come from plotext's own ANSI codes, decoded once per colour.

This reads plotext internals, so plotext is pinned in pyproject.toml, and
``tests/test_plotext_figure.py`` checks the result cell by cell against plotext's own output.
"""

from __future__ import annotations

from itertools import groupby

from plotext import _utility as plotext_utility
from rich.style import Style
from rich.text import Text
from textual_plotext import PlotextPlot


def figure_text(plot) -> Text:
    """What ``Text.from_ansi(plot.build())`` gives, for a plotext figure ``plot``."""
    plot._set_sizes()
    plot._build_matrix()
    matrix = plot.monitor.matrix
    text = Text()
    for row in reversed(matrix.Rows):  # plotext's row 0 is the bottom one
        cells = zip(matrix.marker[row], matrix.fullground[row], matrix.style[row], matrix.background[row])
        for colours, run in groupby(cells, key=lambda cell: cell[1:]):
            text.append("".join(cell[0] for cell in run), cell_style(colours))
        text.append("\n")
    return text


_styles: dict[tuple, Style | str] = {}


def cell_style(colours: tuple) -> Style | str:
    """The rich style of plotext's (foreground, style, background), as plotext writes it in ANSI."""
    key = tuple(tuple(c) if isinstance(c, list) else c for c in colours)  # an RGB colour may be a list
    if key not in _styles:
        decoded = Text.from_ansi(plotext_utility.colors_to_ansi(*colours) + "x").spans
        _styles[key] = decoded[0].style if decoded else ""
    return _styles[key]


class PlotextFigure(PlotextPlot):
    """A :class:`PlotextPlot` whose figure is drawn with :func:`figure_text`."""

    def render(self) -> Text:
        width, height = self.size
        self.plt.plotsize(width, height)
        self.plt._set_size(width, height)  # as PlotextPlot.render does: plotsize alone misses resizes
        self.plt.theme(self._get_plotext_theme_name(self.app.theme))
        return figure_text(self.plt)
