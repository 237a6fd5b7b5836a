"""The current step of a rollout: where it is (step, episode, a timeline with the episode ends
marked) and its entries: observation, action, reward, done / terminated / truncated, step_count,
and the policy's outputs beside them. A sample of transitions (from a replay buffer) has no
episodes: its steps are said to be transitions.

Entries are named by their TensorDict keys (``next.reward``), as the rollout holds them. A
multi-agent env's groups hold one row per agent: each agent's observation, action, reward and
return are shown apart, as ``adversary[1] action``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

#: the step's entries, in the order shown, when the rollout has them
STEP_KEYS: tuple[tuple[str, ...], ...] = (
    ("observation",),
    ("action",),
    ("next", "reward"),
    ("next", "done"),
    ("next", "terminated"),
    ("next", "truncated"),
    ("next", "step_count"),
    ("next", "episode_reward"),
)
POLICY_KEY = "policy"
#: each agent's entries of a group, in the order shown: (label, key under the step)
AGENT_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("observation", ("observation",)),
    ("action", ("action",)),
    ("reward", ("next", "reward")),
    ("return", ("next", "episode_reward")),
)
DONE_KEY = ("next", "done")
#: vectors longer than this are cut, with the count of the rest
MAX_VALUES = 8


def key_name(key: tuple[str, ...] | str) -> str:
    return key if isinstance(key, str) else ".".join(key)


def format_number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:+.3f}" if abs(value) < 1e4 else f"{value:+.3g}"
    return str(value)


def format_value(value: Any, max_values: int = MAX_VALUES) -> str:
    """A tensor's values at one step: ``+0.031 -0.012``, ``True``, ``[…] (4x4)`` when nested."""
    values = value.tolist() if hasattr(value, "tolist") else value
    if not isinstance(values, list):
        return format_number(values)
    if values and isinstance(values[0], list):
        flat = [v for row in values for v in (row if isinstance(row, list) else [row])]
        if not flat or isinstance(flat[0], list):
            return f"[…] {'x'.join(str(s) for s in value.shape)}"
        values = flat
    shown = " ".join(format_number(v) for v in values[:max_values])
    if len(values) > max_values:
        shown += f" … (+{len(values) - max_values})"
    return shown


#: the env's action mask (the engine's ACTION_MASK_KEY; the app imports no torch to read it)
MASK_KEY = "action_mask"


def legal_actions(mask: list[bool]) -> Text:
    """Every action's index, the ones the env forbids at this step greyed out."""
    text = Text()
    for index, legal in enumerate(mask):
        text.append(str(index), "bold green" if legal else "dim strike")
        text.append(" ")
    return text


@dataclass(frozen=True)
class Episode:
    """One episode within a rollout: steps ``start`` to ``end`` (inclusive); ``finished`` when its
    last step is done (the rollout may stop in the middle of one)."""

    number: int
    start: int
    end: int
    finished: bool


def episode_ends(rollout: Any) -> list[int]:
    """Indices of the steps that end an episode (``next.done`` set)."""
    if DONE_KEY not in rollout.keys(include_nested=True) or not rollout.batch_size:
        return []
    done = rollout.get(DONE_KEY).reshape(rollout.batch_size[0], -1).any(-1)
    return done.nonzero().flatten().tolist()


def episode_at(ends: list[int], step: int, length: int) -> Episode:
    number = sum(1 for end in ends if end < step)
    start = ends[number - 1] + 1 if number else 0
    finished = number < len(ends)
    return Episode(number + 1, start, ends[number] if finished else length - 1, finished)


def timeline(length: int, step: int, ends: list[int], width: int) -> Text:
    """A strip ``width`` cells wide across the rollout: ``┃`` where an episode ends, the cells of
    the current step highlighted."""
    text = Text()
    for cell in range(width):
        first = cell * length // width  # the steps this cell covers: first..last
        last = max(first, (cell + 1) * length // width - 1)
        # a step wider than a cell marks its end once, in its last cell
        last_cell_of_step = cell == width - 1 or (cell + 1) * length // width > last
        ends_here = last_cell_of_step and bisect.bisect_right(ends, last) > bisect.bisect_left(ends, first)
        if first <= step <= last:
            text.append("┃" if ends_here else "━", "reverse bold")
        else:
            text.append("┃" if ends_here else "─", "bold magenta" if ends_here else "dim")
    return text


def agent_groups(step: Any) -> list[str]:
    """The groups of agents of a multi-agent step: its nested entries that hold an action."""
    return [key for key in step.keys() if key not in ("next", POLICY_KEY)
            and hasattr(step.get(key), "keys") and "action" in step.get(key).keys()]


def agent_rows(step: Any, keys: set[tuple[str, ...]]) -> list[tuple[str, str, str]]:
    """Each agent's observation, action, reward and return at ``step``, group by group."""
    rows = []
    for group in agent_groups(step):
        for index in range(step.get(group).batch_size[0]):
            for label, key in AGENT_KEYS:
                full = (*key[:-1], group, key[-1])  # ("next", group, "reward")
                if full in keys:
                    rows.append((f"{group}[{index}] {label}", format_value(step.get(full)[index]), "green"))
    return rows


NO_ROLLOUT = "no rollout: press o to open one, or l for a live env"


class StepTable(Widget):
    """The step under the cursor of a rollout, with its place in the rollout's episodes."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rollout: Any = None
        self.step = 0
        self.empty_note = NO_ROLLOUT
        self.transitions = False

    def show(self, rollout: Any, step: int, empty_note: str = NO_ROLLOUT, transitions: bool = False) -> None:
        """Show ``rollout`` at ``step``; ``empty_note`` says what to do while it has no steps;
        ``transitions``: its steps are a sample of transitions, not episodes."""
        self.rollout = rollout
        self.step = step
        self.empty_note = empty_note
        self.transitions = transitions
        self.refresh(layout=True)

    def rows(self) -> list[tuple[str, str, str]]:
        """(entry, value, style) for each entry of the current step that the rollout has."""
        step = self.rollout[self.step]
        keys = {key if isinstance(key, tuple) else (key,) for key in step.keys(include_nested=True, leaves_only=True)}
        rows = []
        for key in STEP_KEYS:
            if key in keys:
                value = step.get(key)
                flag = key[-1] in ("done", "terminated", "truncated")
                style = "bold magenta" if flag and bool(value.any()) else ""
                rows.append((key_name(key), format_value(value), style))
        rows += agent_rows(step, keys)
        if POLICY_KEY in step.keys():
            for key in step.get(POLICY_KEY).keys(include_nested=True, leaves_only=True):
                full = (POLICY_KEY, *(key if isinstance(key, tuple) else (key,)))
                rows.append((key_name(full), format_value(step.get(full)), "cyan"))
        return rows

    def header(self) -> Text:
        length = self.rollout.batch_size[0]
        ends = episode_ends(self.rollout)
        text = Text()
        text.append(f"step {self.step}", "bold")
        text.append(f"/{length - 1} · ")
        if self.transitions:
            text.append("transition", "bold")
            text.append(" of a sample, not in episode order")
            if self.step in ends:
                text.append(" ■ ends an episode", "bold magenta")
        else:
            episode = episode_at(ends, self.step, length)
            text.append(f"episode {episode.number}", "bold")
            text.append(f": {episode.start}–{episode.end}{'' if episode.finished else '…'}")
            if self.step == episode.end and episode.finished:
                text.append(" ■ ends", "bold magenta")
        text.append("\n")
        text.append_text(timeline(length, self.step, ends, self.content_size.width or 40))
        return text

    def render(self) -> Any:
        if self.rollout is None or not self.rollout.batch_size or self.rollout.batch_size[0] == 0:
            return Text(self.empty_note, style="dim")
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value, style in self.rows():
            table.add_row(name, Text(value, style=style))
        step = self.rollout[self.step]
        if MASK_KEY in step.keys():
            table.add_row("legal", legal_actions(step.get(MASK_KEY).tolist()))
        return Group(self.header(), table)
