"""What a search varies: ``--param`` expressions, and the default space of each algorithm.

An expression is ``PATH=KIND(ARGS)``: ``loguniform(1e-4,1e-2)``, ``uniform(0,0.2)``,
``int(1,20)``, ``intlog(16,4096)`` or ``choice(0.98,0.99,0.999)`` (choices are read like ``--set``
values, so ``choice([64],[64,64])`` varies a list). PATH is a config field (``optim.lr``); every
expression is checked against the config model (its bounds, its ends and each choice) before a
study or a run exists, and a bad one is a ``ConfigError`` naming it.

The default spaces are RL Zoo's own (``rl_zoo3/hyperparams_opt.py``, DLR-RM/rl-baselines3-zoo:
``sample_ppo_params``, ``sample_a2c_params``, ``sample_dqn_params``, ``sample_sac_params``,
``sample_ddpg_params``, ``sample_td3_params``), mapped onto the fields tui-rl has:
``n_steps``/``train_freq`` -> ``collector.frames_per_batch``, ``batch_size`` ->
``algorithm.minibatch_size`` (PPO) or ``replay_buffer.batch_size``, ``buffer_size`` ->
``replay_buffer.size``, ``learning_starts`` -> ``collector.init_random_frames``, ``net_arch`` ->
``network.hidden_sizes``, ``activation_fn`` -> ``network.activation``, ``exploration_final_eps``
-> ``algorithm.eps_end``, ``noise_std`` -> ``algorithm.noise_sigma``. RL Zoo samples ``1 - gamma``
and ``1 - gae_lambda`` log-uniformly for PPO and A2C; here those are the categorical lists RL Zoo
uses for its other algorithms. Left out, as tui-rl has no field of that meaning: gradient steps tied
to ``train_freq``, ``exploration_fraction`` (a fraction of the budget, not frames),
``target_update_interval`` (hard updates only), ``log_std_init``, gSDE. An algorithm without a
space of its own (a new one) gets the fields every algorithm has: ``algorithm.gamma`` and
``optim.lr``. Imports neither torch nor optuna (optuna loads when a trial samples).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from tui_rl.config import ConfigError, RunConfig, edit
from tui_rl.config.edit import parse_value
from tui_rl.config.errors import shorten

Kind = Literal["loguniform", "uniform", "int", "intlog", "choice"]
KINDS: tuple[Kind, ...] = ("loguniform", "uniform", "int", "intlog", "choice")
EXPRESSION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([a-z]+)\s*\((.*)\)\s*$", re.DOTALL)
EXAMPLE = "such as optim.lr=loguniform(1e-4,1e-2) or algorithm.gamma=choice(0.98,0.99,0.999)"

GAMMAS = "choice(0.9,0.95,0.98,0.99,0.995,0.999,0.9999)"
ON_POLICY_GAMMAS = "choice(0.97,0.98,0.99,0.995,0.999,0.9999)"  # 1 - loguniform(1e-4, 0.03)
GAE_LAMBDAS = "choice(0.9,0.95,0.98,0.99,0.999)"  # 1 - loguniform(1e-4, 0.1)
TAUS = "choice(0.001,0.005,0.01,0.02,0.05,0.08)"
TRAIN_FREQS = "choice(1,4,8,16,32,64,128,256,512)"
BIG_NETS = "choice([64,64],[256,256],[400,300])"

#: algorithm -> {field path: expression}: RL Zoo's samplers, as the module docstring maps them
DEFAULT_SPACES: dict[str, dict[str, str]] = {
    "ppo": {
        "collector.frames_per_batch": "choice(32,64,128,256,512,1024,2048)",
        "algorithm.minibatch_size": "choice(32,64,128,256,512)",
        "algorithm.gamma": ON_POLICY_GAMMAS,
        "algorithm.gae_lambda": GAE_LAMBDAS,
        "optim.lr": "loguniform(1e-5,0.002)",
        "algorithm.entropy_coef": "loguniform(1e-8,0.1)",
        "algorithm.clip_epsilon": "choice(0.1,0.2,0.3,0.4)",
        "algorithm.epochs": "choice(1,5,10,20)",
        "optim.max_grad_norm": "uniform(0.3,2)",
        "network.hidden_sizes": "choice([64],[64,64],[256,256])",
        "network.activation": 'choice("tanh","relu")',
    },
    "a2c": {
        "collector.frames_per_batch": "choice(32,64,128,256,512,1024,2048)",
        "algorithm.gamma": ON_POLICY_GAMMAS,
        "algorithm.gae_lambda": GAE_LAMBDAS,
        "optim.lr": "loguniform(1e-5,0.002)",
        "optim.max_grad_norm": "uniform(0.3,2)",
        "algorithm.entropy_coef": "loguniform(1e-8,0.1)",
        "network.hidden_sizes": "choice([64,64],[256,256])",
        "network.activation": 'choice("tanh","relu")',
    },
    "dqn": {
        "algorithm.gamma": GAMMAS,
        "optim.lr": "loguniform(1e-5,1)",
        "replay_buffer.batch_size": "choice(16,32,64,100,128,256,512)",
        "replay_buffer.size": "choice(10000,50000,100000,1000000)",
        "algorithm.eps_end": "uniform(0,0.2)",
        "collector.init_random_frames": "choice(0,1000,5000,10000,20000)",
        "collector.frames_per_batch": "choice(1,4,8,16,128,256,1000)",
        "network.hidden_sizes": "choice([64],[64,64],[256,256])",
    },
    "sac": {
        "algorithm.gamma": GAMMAS,
        "optim.lr": "loguniform(1e-5,1)",
        "replay_buffer.batch_size": "choice(16,32,64,128,256,512,1024,2048)",
        "replay_buffer.size": "choice(10000,100000,1000000)",
        "collector.init_random_frames": "choice(0,1000,10000,20000)",
        "collector.frames_per_batch": TRAIN_FREQS,
        "algorithm.tau": TAUS,
        "network.hidden_sizes": BIG_NETS,
    },
    "ddpg": {
        "algorithm.gamma": GAMMAS,
        "optim.lr": "loguniform(1e-5,1)",
        "replay_buffer.batch_size": "choice(16,32,64,100,128,256,512,1024,2048)",
        "replay_buffer.size": "choice(10000,100000,1000000)",
        "algorithm.tau": TAUS,
        "collector.frames_per_batch": TRAIN_FREQS,
        "algorithm.noise": 'choice("ou","gaussian")',
        "algorithm.noise_sigma": "uniform(0,1)",
        "network.hidden_sizes": BIG_NETS,
    },
}
DEFAULT_SPACES["td3"] = {k: v for k, v in DEFAULT_SPACES["ddpg"].items() if not k.startswith("algorithm.noise")}
#: what every algorithm has, for one without a space above
COMMON_SPACE = {"algorithm.gamma": GAMMAS, "optim.lr": "loguniform(1e-5,1)"}


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
    return [parse_param(f"{path}={expr}") for path, expr in DEFAULT_SPACES.get(algorithm, COMMON_SPACE).items()]


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

