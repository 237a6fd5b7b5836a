"""The search screen's pictures, drawn in the terminal: the best-so-far curve, the running trials'
live returns, a slice view (one parameter against the trial's return) and the importance bars.

Each function takes the plot's plotext object (``PlotextFigure.plt``) and a loaded study view; none
imports optuna or torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_rl.engine.search.view import StudyView

COLORS = ("cyan", "orange", "green", "magenta", "blue", "red")
BAR_WIDTH = 30


def empty(plt: Any, title: str, note: str) -> None:
    plt.title(title)
    plt.xticks([])
    plt.yticks([])
    plt.xlim(0, 1)
    plt.ylim(0, 1)
    plt.text(note, 0.5, 0.5, alignment="center")


def draw_best(plt: Any, view: StudyView) -> None:
    """Every completed trial's return (dots) and the best so far (a step line), by trial number."""
    plt.clear_figure()
    done = [(r.number, r.value) for r in view.rows if r.value is not None and math.isfinite(r.value)]
    if not done:
        empty(plt, "Best return so far", "no completed trial yet")
        return
    plt.title("Best return so far")
    best = view.best_so_far
    plt.plot([n for n, _ in best], [v for _, v in best], color="cyan", label="best")
    plt.scatter([n for n, _ in done], [v for _, v in done], color="orange", marker="dot", label="trial")
    plt.xticks(whole_numbers(min(n for n, _ in done), max(n for n, _ in done)))
    plt.xlabel("trial")


def whole_numbers(low: int, high: int, most: int = 8) -> list[int]:
    """At most ``most`` evenly spaced whole numbers from ``low`` to ``high``: trial numbers have no
    fractions, and plotext's own ticks would give them."""
    step = max(1, math.ceil((high - low) / (most - 1)))
    return list(range(low, high + 1, step))


def draw_live(plt: Any, view: StudyView) -> None:
    """The training return of each running trial, by frame."""
    plt.clear_figure()
    curves = {n: points for n, points in view.live.items() if points}
    if not curves:
        note = "no trial running" if not view.live else "waiting for the first episodes"
        empty(plt, "Running trials", note)
        return
    plt.title("Running trials: episode return")
    for index, (number, points) in enumerate(sorted(curves.items())):
        plt.plot([x for x, _ in points], [y for _, y in points], color=COLORS[index % len(COLORS)],
                 label=f"trial {number}")
    plt.xlabel("frames")


def slice_params(view: StudyView) -> list[str]:
    return sorted({name for row in view.rows for name in row.params})


def draw_slice(plt: Any, view: StudyView, param: str | None) -> None:
    """One parameter's value against each completed trial's return (categories as positions)."""
    plt.clear_figure()
    points = [(r.params[param], r.value) for r in view.rows
              if param in r.params and r.value is not None and math.isfinite(r.value)]
    if param is None or not points:
        empty(plt, f"Slice: {param or 'no parameter'}", "no completed trial yet")
        return
    xs = [x for x, _ in points]
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
        positive = all(x > 0 for x in xs)
        log = positive and max(xs) / min(xs) > 100
        plt.scatter([math.log10(x) for x in xs] if log else xs, [y for _, y in points], color="orange")
        plt.xlabel(f"log10 {param}" if log else param)
    else:
        labels = sorted({str(x) for x in xs})
        plt.scatter([labels.index(str(x)) for x in xs], [y for _, y in points], color="orange")
        plt.xticks(list(range(len(labels))), labels)
        plt.xlabel(param)
    plt.title(f"Slice: {param} (v: next parameter)")


def importance_text(view: StudyView) -> str:
    """Bars of Optuna's parameter importance, largest first."""
    if not view.importances:
        return "Parameter importance shows once two completed trials differ in their parameters."
    width = max(len(name) for name in view.importances)
    lines = ["Parameter importance (fANOVA over the completed trials)", ""]
    for name, share in sorted(view.importances.items(), key=lambda item: -item[1]):
        bar = "█" * max(1, round(share * BAR_WIDTH)) if share > 0 else ""
        lines.append(f"{name:<{width}}  {bar} {share:.2f}")
    return "\n".join(lines)
