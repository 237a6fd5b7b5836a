"""Filtering runs by any config field or run.json figure: ``optim.lr<0.001``, ``env.id=CartPole-v1``,
``algorithm.name!=dqn frames>=10000``. Terms are separated by spaces or commas and must all hold;
``~`` means "contains". No torch import: the Runs pane filters before torch loads."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui_rl.config.edit import parse_value
from tui_rl.engine.runs.folder import RunSummary

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "!=": operator.ne, "==": operator.eq,
    "<": operator.lt, ">": operator.gt, "=": operator.eq, "~": lambda a, b: str(b).lower() in str(a).lower(),
}
TERM = re.compile(r"^\s*([\w.]+)\s*(<=|>=|!=|==|<|>|=|~)\s*(.+?)\s*$")
#: run.json figures a filter may name besides config fields
SUMMARY_FIELDS = ("status", "frames", "episodes", "best_eval", "last_eval", "name", "parent", "preset")


class FilterError(ValueError):
    """A filter that cannot be read; the message says which term and why."""


@dataclass(frozen=True)
class Term:
    path: str
    op: str
    value: Any

    def holds(self, fields: dict[str, Any]) -> bool:
        if self.path not in fields:
            return False
        try:
            return bool(OPERATORS[self.op](fields[self.path], self.value))
        except TypeError:  # a number compared with text: no match, not an error
            return False


def parse_filter(text: str) -> list[Term]:
    terms = []
    tight = re.sub(r"\s*(<=|>=|!=|==|<|>|=|~)\s*", r"\1", text.strip())  # "lr < 0.1" as "lr<0.1"
    for raw in filter(None, re.split(r"[,\s]+", tight)):
        match = TERM.match(raw)
        if match is None:
            raise FilterError(f"{raw!r}: write FIELD OP VALUE, such as optim.lr<0.001 (OP: < <= > >= = != ~)")
        path, op, value = match.groups()
        terms.append(Term(path, op, value if op == "~" else parse_value(value)))
    return terms


def run_fields(summary: RunSummary, config_data: dict[str, Any] | None) -> dict[str, Any]:
    """What a filter sees of a run: its config's fields and its summary's figures."""
    fields = dict(config_data or {})
    fields.update({name: getattr(summary, name) for name in SUMMARY_FIELDS})
    return fields


def matches(terms: list[Term], fields: dict[str, Any]) -> bool:
    return all(term.holds(fields) for term in terms)


def known_path(terms: list[Term], fields: dict[str, Any]) -> str | None:
    """The first term naming no field at all (a typo), for the pane to say."""
    return next((term.path for term in terms if term.path not in fields), None)

