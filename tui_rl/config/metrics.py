"""Every metric a run logs, named once, with its group and its unit.

A metric's group says where the app shows it: a chart tab (``chart`` groups, in tab order), the
workers panel or the time panel. The metrics every run logs are :data:`RUN_METRICS`; each
algorithm declares the ones its update logs (its losses, its exploration figures) in the algorithm
registry (config/algorithms.py) from the constants here. Per-worker figures are declared once as a
:class:`WorkerMetric`, which builds and parses their ``worker<i>_<figure>`` names. The engine
writes these names (metric files, TensorBoard, W&B, events); the charts, the panels and
``tui-rl runs show`` read them from here. Imports neither torch nor textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """Where a metric is shown: a chart (``tab``, ``title``) or a panel (``chart`` False)."""

    key: str
    tab: str
    title: str
    chart: bool = True


RETURN = Group("return", "Return", "Episode return")
LENGTH = Group("length", "Length", "Episode length")
LOSS = Group("loss", "Losses", "Losses")
EXPLORATION = Group("exploration", "Exploration", "Exploration")
SPEED = Group("fps", "Frames/s", "Frames per second")
EVAL = Group("eval", "Eval", "Evaluation return")
LR = Group("lr", "LR", "Learning rate")
WORKERS = Group("workers", "Workers", "Collector workers and replay buffer", chart=False)
TIME = Group("time", "Time", "Where each batch's time goes", chart=False)
#: every group, the charts' in tab order
GROUPS = (RETURN, LENGTH, LOSS, EXPLORATION, SPEED, EVAL, LR, WORKERS, TIME)


@dataclass(frozen=True)
class Metric:
    name: str
    group: Group
    unit: str = ""
    #: how a panel names it (the time panel's rows); "" where its name serves
    label: str = ""


# -- what every run logs -------------------------------------------------------------------------
EPISODE_RETURN = Metric("episode_return", RETURN, "return")
EPISODE_LENGTH = Metric("episode_length", LENGTH, "steps")
FPS = Metric("fps", SPEED, "frames/s")
EVAL_RETURN = Metric("eval_return", EVAL, "return")
LEARNING_RATE = Metric("lr", LR)
COLLECT_FPS = Metric("collect_fps", WORKERS, "frames/s")
WORKERS_ALIVE = Metric("workers_alive", WORKERS, "workers")
REPLAY_FILL = Metric("replay_fill", WORKERS, "fraction")
REPLAY_WRITES = Metric("replay_writes_per_s", WORKERS, "writes/s")
REPLAY_UTD = Metric("replay_utd", WORKERS, "updates/frame")
#: part of a batch -> its milliseconds per batch, in the time panel's order (engine/run/batch_timing.py)
BATCH_TIMES = {
    section: Metric(f"time_{section}", TIME, "ms", label)
    for section, label in (
        ("env_step", "env steps"), ("policy", "policy forward"), ("transforms", "transforms"),
        ("collector", "collector (rest)"), ("replay_add", "replay writes"), ("replay_sample", "replay sample"),
        ("gradient", "gradient steps"), ("target_update", "target updates"), ("evaluation", "evaluation"),
        ("logging", "logging"),
    )
}
CPU_USAGE = Metric("usage_cpu_percent", TIME, "%", "CPU")
RAM_USAGE = Metric("usage_ram_mb", TIME, "MiB", "RAM")
GPU_USAGE = Metric("usage_gpu_mb", TIME, "MiB", "GPU memory")
#: the trainer process's use of the machine, in the time panel's order
USAGE = (CPU_USAGE, RAM_USAGE, GPU_USAGE)

RUN_METRICS = (
    EPISODE_RETURN, EPISODE_LENGTH, FPS, EVAL_RETURN, LEARNING_RATE, COLLECT_FPS, WORKERS_ALIVE,
    REPLAY_FILL, REPLAY_WRITES, REPLAY_UTD, *BATCH_TIMES.values(), *USAGE,
)

# -- what algorithms log (each declares its own in config/algorithms.py) ---------------------------
# The loss terms keep TorchRL's names for them (its loss modules' ``loss_*`` outputs).
LOSS_QVALUE = Metric("loss_qvalue", LOSS)
LOSS_VALUE = Metric("loss_value", LOSS)
LOSS_ACTOR = Metric("loss_actor", LOSS)
LOSS_ALPHA = Metric("loss_alpha", LOSS)
LOSS_OBJECTIVE = Metric("loss_objective", LOSS)
LOSS_CRITIC = Metric("loss_critic", LOSS)
LOSS_ENTROPY = Metric("loss_entropy", LOSS)
EPSILON = Metric("epsilon", EXPLORATION, "probability")
ENTROPY = Metric("entropy", EXPLORATION, "nats")
ALPHA = Metric("alpha", EXPLORATION, "temperature")


@dataclass(frozen=True)
class WorkerMetric:
    """A figure logged for each collector worker, as ``worker<i>_<figure>``."""

    figure: str
    unit: str
    group: Group = WORKERS

    def name(self, worker: int) -> str:
        return f"worker{worker}_{self.figure}"


WORKER_FPS = WorkerMetric("fps", "frames/s")
WORKER_ALIVE = WorkerMetric("alive", "yes (1) / no (0)")
WORKER_LAG = WorkerMetric("lag", "updates")
PER_WORKER = (WORKER_FPS, WORKER_ALIVE, WORKER_LAG)
WORKER_NAME = re.compile(r"worker(\d+)_(\w+)")


def parse_worker_metric(name: str) -> tuple[int, WorkerMetric] | None:
    """``worker3_fps`` -> (3, :data:`WORKER_FPS`); None for a name that is no per-worker metric."""
    match = WORKER_NAME.fullmatch(name)
    figure = next((m for m in PER_WORKER if match and m.figure == match[2]), None)
    return None if figure is None else (int(match[1]), figure)


@dataclass(frozen=True)
class GroupMetric:
    """A figure logged for each group of agents of a multi-agent env, as ``<figure>/<group>``
    (``episode_return/adversary``), charted with its figure; the figure itself (``episode_return``)
    is the mean over the groups."""

    metric: Metric

    def name(self, group: str) -> str:
        return f"{self.metric.name}/{group}"


GROUP_RETURN = GroupMetric(EPISODE_RETURN)
PER_GROUP = (GROUP_RETURN,)


def parse_group_metric(name: str) -> tuple[str, GroupMetric] | None:
    """``episode_return/adversary`` -> ("adversary", :data:`GROUP_RETURN`); None for a name that
    is no per-group metric."""
    figure, slash, group = name.partition("/")
    found = next((m for m in PER_GROUP if m.metric.name == figure), None)
    return None if found is None or not slash or not group else (group, found)
