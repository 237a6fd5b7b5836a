"""What a search varies: ``--param`` expressions, or the default space the algorithm registry names.

An expression is ``PATH=KIND(ARGS)``: ``loguniform(1e-4,1e-2)``, ``uniform(0,0.2)``,
``int(1,20)``, ``intlog(16,4096)`` or ``choice(0.98,0.99,0.999)`` (choices are read like ``--set``
values, so ``choice([64],[64,64])`` varies a list). PATH is a config field (``optim.lr``); every
expression is checked against the config model (its bounds, its ends and each choice) before a
study or a run exists, and a bad one is a ``ConfigError`` naming it. The default spaces (RL Zoo's)
are in config/search_spaces.py; an algorithm whose registry entry names none is searched only over
``--param`` expressions. Imports neither torch nor optuna (optuna loads when a trial samples).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from tui_rl.config import ConfigError, RunConfig, edit
from tui_rl.config.algorithms import ALGORITHMS
from tui_rl.config.edit import parse_value
from tui_rl.config.errors import shorten

Kind = Literal["loguniform", "uniform", "int", "intlog", "choice"]
KINDS: tuple[Kind, ...] = ("loguniform", "uniform", "int", "intlog", "choice")
EXPRESSION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([a-z]+)\s*\((.*)\)\s*$", re.DOTALL)
EXAMPLE = "such as optim.lr=loguniform(1e-4,1e-2) or algorithm.gamma=choice(0.98,0.99,0.999)"


@dataclass(frozen=True)
class ParamSpec:
    """One varied field: its path, its distribution, and (for ``choice``) the values as typed."""

    path: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def __str__(self) -> str:
        if self.kind == "choice":
            return f"{self.path}=choice({','.join(map(choice_text, self.choices))})"
        return f"{self.path}={self.kind}({self.low:g},{self.high:g})"

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial samples, as the config takes it."""
        if self.kind == "choice":
            # Optuna stores scalars only: a list choice is sampled as its text and read back here
            return config_value(trial.suggest_categorical(self.path, [optuna_choice(c) for c in self.choices]))
        if self.kind in ("int", "intlog"):
            return trial.suggest_int(self.path, int(self.low), int(self.high), log=self.kind == "intlog")
        return trial.suggest_float(self.path, self.low, self.high, log=self.kind == "loguniform")

    def corners(self) -> list[Any]:
        """The values that must all be valid for the whole range to be."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind in ("int", "intlog"):
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


def choice_text(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def optuna_choice(value: Any) -> Any:
    return str(value) if isinstance(value, list) else value


def config_value(value: Any) -> Any:
    """A trial's parameter as the config takes it: a list choice is stored as its text."""
    return parse_value(value) if isinstance(value, str) and value.startswith("[") else value


def parse_param(text: str) -> ParamSpec:
    """One ``--param`` expression; a malformed one is a ConfigError naming it."""
    match = EXPRESSION.match(text)
    if not match:
        raise ConfigError.at(text.partition("=")[0].strip() or shorten(text),
                             f"--param {shorten(text)}: expected PATH=KIND(ARGS), {EXAMPLE}")
    path, kind, body = match.groups()
    if kind not in KINDS:
        raise ConfigError.at(path, f"--param: unknown distribution {kind!r}; use one of {', '.join(KINDS)}")
    values = [parse_value(arg.strip()) for arg in split_args(body)]
    if kind == "choice":
        if not values or any(isinstance(v, str) and not v for v in values):
            raise ConfigError.at(path, "--param: choice() needs at least one value, such as choice(0.98,0.99)")
        return ParamSpec(path, kind, choices=tuple(values))
    if len(values) != 2 or not all(is_number(v) for v in values):
        raise ConfigError.at(path, f"--param: {kind}() takes two finite numbers (below 1e308), low and high, "
                             f"such as {kind}(1e-4,1e-2)")
    low, high = float(values[0]), float(values[1])
    if not low < high:
        raise ConfigError.at(path, f"--param: {kind}({low:g},{high:g}): low must be below high")
    if kind in ("loguniform", "intlog") and low <= 0:
        raise ConfigError.at(path, f"--param: {kind}() needs a positive low end, not {low:g}")
    if kind in ("int", "intlog") and not (low.is_integer() and high.is_integer()):
        raise ConfigError.at(path, f"--param: {kind}() takes whole numbers, not {low:g} and {high:g}")
    return ParamSpec(path, kind, low, high)


def is_number(value: Any) -> bool:
    """A finite number a float can hold (a longer integer is not one)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def split_args(body: str) -> list[str]:
    """``1,[64,64],"a,b"`` as three arguments: commas inside brackets or quotes do not split."""
    args, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            args.append(body[start:i])
            start = i + 1
    args.append(body[start:])
    return args


def default_space(algorithm: str) -> list[ParamSpec]:
    """The space the registry names for ``algorithm``; a ConfigError when it names none."""
    space = ALGORITHMS[algorithm].search_space
    if space is None:
        raise ConfigError.at("algorithm.name", f"{algorithm} has no default search space; name what to vary with "
                             f"--param, {EXAMPLE}")
    return [parse_param(f"{path}={expr}") for path, expr in space.items()]


def build_space(config: RunConfig, expressions: list[str]) -> list[ParamSpec]:
    """The space of a search on ``config``: the ``--param`` expressions, or the algorithm's default;
    each checked against the config model (a bad field or value is a ConfigError naming it)."""
    space = [parse_param(text) for text in expressions] or default_space(config.algorithm.name)
    seen: set[str] = set()
    for spec in space:
        if spec.path in seen:
            raise ConfigError.at(spec.path, "--param: given twice")
        seen.add(spec.path)
        for value in spec.corners():
            try:
                edit(config, {spec.path: value}, source=f"--param {spec}")
            except ConfigError as exc:
                if len(exc.errors) != 1 or "invalid configuration" in str(exc):
                    raise
                raise ConfigError(f"--param {spec}: {exc}", exc.errors) from None
    return space


def apply_params(config: RunConfig, params: dict[str, Any]) -> RunConfig:
    """``config`` with a trial's sampled values."""
    return edit(config, params, source="search trial")

