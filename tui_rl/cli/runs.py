"""``tui-rl runs``: the runs of a folder as a table (or JSON), and one run with its metric series
(grouped as the app's charts and panels group them, with their units: config/metrics.py)."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from tui_rl.cli.outcome import EXIT_OK
from tui_rl.engine.runs.external import EXTERNAL, external_history, external_summaries
from tui_rl.engine.runs.folder import UNREADABLE, RunHistory, RunSummary, list_runs, read_history, resolve_run


def cmd_runs(args: argparse.Namespace) -> int:
    if args.action == "show":
        history = external_history(args.run, args.runs_dir) or read_history(resolve_run(args.run, args.runs_dir))
        if args.json:
            data = history.summary.to_json()
            data["series"] = {name: [list(point) for point in series] for name, series in history.metrics.items()}
            print(as_json(data))
        else:
            print_run(history)
            if history.summary.status != EXTERNAL:
                print_setup_line(history.run_dir)
        return EXIT_OK
    summaries = list_runs(args.runs_dir) + external_summaries(args.runs_dir)
    if args.json:
        print(as_json([s.to_json() for s in summaries]))
        return EXIT_OK
    if not summaries:
        print(f"no runs in {args.runs_dir}")
        return EXIT_OK
    print_runs(summaries)
    from tui_rl.engine.run.seed_runs import group_line, unfinished_groups

    for stem, members in unfinished_groups(summaries).items():
        print(group_line(stem, members))
    return EXIT_OK


def print_setup_line(run_dir) -> None:
    from tui_rl.config import ConfigError
    from tui_rl.engine.runs.reproduce import reproduce_text

    try:
        print(f"\nset it up again with:\n{reproduce_text(run_dir)}")
    except ConfigError as exc:  # a damaged config or preset: the rest of `runs show` still stands
        print(f"\nno setup line: {exc}")


def as_json(data: Any) -> str:
    """Strict JSON: a value that became NaN or infinite (a diverged loss) is written as null."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(data), indent=2, allow_nan=False)


def print_runs(summaries: list[RunSummary]) -> None:
    from rich.console import Console
    from rich.measure import Measurement
    from rich.text import Text

    console = Console()
    # Narrow terminals leave out whole columns instead of folding cells: the preset first (a
    # default run name starts with it; `runs show` has it), then the frame budget, then the
    # last evaluation. Names stay whole: `attach`, `runs show` and `--resume` take them.
    for layout in RUNS_LAYOUTS:
        table = runs_table(summaries, layout)
        if Measurement.get(console, console.options.update(max_width=10_000), table).maximum <= console.width:
            break
    console.print(table)
    for s in summaries:
        if s.reason and s.status in (UNREADABLE, EXTERNAL):
            console.print(Text(f"{s.name}: {s.reason}"), highlight=False)


#: the columns of `tui-rl runs`, widest first
RUNS_LAYOUTS = (
    ("name", "preset", "status", "frames", "best eval", "last eval"),
    ("name", "status", "frames", "best eval", "last eval"),
    ("name", "status", "done", "best eval", "last eval"),
    ("name", "status", "done", "best eval"),
)


def runs_table(summaries: list[RunSummary], layout: tuple[str, ...]):
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for column in layout:
        table.add_column("frames" if column == "done" else column, no_wrap=True,
                         justify="right" if "eval" in column else "left",
                         min_width=max(len(s.name) for s in summaries) if column == "name" else None)
    for s in summaries:
        frames = {UNREADABLE: "-", EXTERNAL: f"{s.frames:,}"}.get(s.status, f"{s.frames:,}/{s.total_frames:,}")
        cells = {"name": s.name, "preset": s.preset, "status": s.shown_status, "frames": frames,
                 "done": "-" if s.status == UNREADABLE else f"{s.frames:,}",
                 "best eval": number(s.best_eval), "last eval": number(s.last_eval)}
        table.add_row(*(Text(cells[column]) for column in layout))  # Text: [brackets] are not markup
    return table


def print_run(history: RunHistory) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    print_summary(console, history.summary)
    table = Table("metric", "unit", "points", "first", "last", "min", "max", box=None, header_style="bold")
    table.columns[0].no_wrap = True  # names stay whole: they are what the metric files are called
    group = None
    for tab, name, unit in shown_metrics(history.metrics):
        if tab != group:
            group = tab
            table.add_row(Text(tab or "other", "bold underline"))
        series = history.metrics[name]
        values = [v for _, v in series]
        table.add_row(
            Text(name), unit, str(len(series)), f"{series[0][1]:.4g} @ {series[0][0]:,}",
            f"{series[-1][1]:.4g} @ {series[-1][0]:,}", f"{min(values):.4g}", f"{max(values):.4g}",
        )
    console.print(table)


def shown_metrics(metrics: dict[str, list]) -> list[tuple[str, str, str]]:
    """(group's tab, name, unit) of each non-empty series: the declared ones group by group, in the
    declaration's order (per-worker figures after the rest of their group, by worker), then any
    other (another tool's, an older version's) by name, in no group."""
    from tui_rl.config.algorithms import DECLARED_METRICS
    from tui_rl.config.metrics import GROUPS, parse_worker_metric

    order = {m.name: i for i, m in enumerate(DECLARED_METRICS)}
    declared = {m.name: m for m in DECLARED_METRICS}
    rows = []
    for name, series in metrics.items():
        if not series:
            continue
        worker = parse_worker_metric(name)
        metric = declared.get(name) or (worker[1] if worker else None)
        if metric is None:
            rows.append(((len(GROUPS), 0, 0, name), "", name, ""))
            continue
        key = (GROUPS.index(metric.group), order.get(name, len(order)), worker[0] if worker else 0, name)
        rows.append((key, metric.group.tab, name, metric.unit))
    return [(group, name, unit) for _, group, name, unit in sorted(rows)]


def print_summary(console: Any, s: RunSummary) -> None:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    rows = [
        ("run", f"{s.name}  ({s.path})"),
        ("preset", s.preset or "-"),
        ("env / algorithm", f"{s.env_id} / {s.algorithm}"),
        ("status", s.status + (f": {s.reason}" if s.reason else "")),
        ("frames", f"{s.frames:,} of {s.total_frames:,}"),
        ("episodes", f"{s.episodes:,}"),
        ("training time", f"{s.train_seconds:.1f} s"),
        ("eval return", f"best {number(s.best_eval)}, last {number(s.last_eval)}"),
    ]
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", value.replace("[", r"\["))
    console.print(table)


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
