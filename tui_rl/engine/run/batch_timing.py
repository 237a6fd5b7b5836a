"""Where each batch's time goes: env steps, policy forward, transforms, the rest of collection,
replay writes and sampling, gradient steps, target updates, evaluation and logging, with the process's CPU,
memory and (on CUDA) GPU memory. The time panel draws it.

The trainer times collection and the update as wholes; the parts inside them are timed by wrapping
the objects that do them, on this run's instances only: the base env's and the transformed env's
``_step`` (transforms are the difference), the collector policy's ``forward``, the replay
buffer's ``extend`` and ``sample`` and the target updater's ``step``. Figures go out as metrics
(config/metrics.py's ``BATCH_TIMES`` in ms per batch, and ``USAGE``) averaged over about ``INTERVAL_S`` seconds, so a fast run
logs a few rows a second, not one per batch.
"""

from __future__ import annotations

import functools
import os
import time
from collections import defaultdict
from typing import Any

from tui_rl.config.metrics import BATCH_TIMES, CPU_USAGE, GPU_USAGE, RAM_USAGE

INTERVAL_S = 2.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


class BatchTimer:
    """Accumulates seconds per section between reports."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.batches = 0
        self.since = time.perf_counter()
        self.cpu_since = self._cpu()

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds

    def timed(self, function: Any, name: str) -> Any:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return wrapper

    def instrument(self, parts: Any) -> None:
        """Wrap the run's env, policy, replay buffer and target updates (this instance only)."""
        env = parts.env
        env._step = self.timed(env._step, "env_total")
        base = getattr(env, "base_env", None)
        if base is not None:
            base._step = self.timed(base._step, "env_step")
        policy = parts.algorithm.collector_policy  # its forward, wrapped: forward hooks would cost more
        policy.forward = self.timed(policy.forward, "policy")
        algorithm = parts.algorithm
        if algorithm.replay_buffer is not None:
            algorithm.replay_buffer.sample = self.timed(algorithm.replay_buffer.sample, "replay_sample")
            algorithm.replay_buffer.extend = self.timed(algorithm.replay_buffer.extend, "replay_add")
        if algorithm.target_updater is not None:
            algorithm.target_updater.step = self.timed(algorithm.target_updater.step, "target_update")

    def batch_done(self, collect_s: float, update_s: float, device: Any = None) -> dict[str, float]:
        """Count one batch; every ``INTERVAL_S`` the breakdown (ms per batch) and usage, else {}."""
        self.add("collect_total", collect_s)
        self.add("update_total", update_s)
        self.batches += 1
        now = time.perf_counter()
        if now - self.since < INTERVAL_S:
            return {}
        s, n = self.seconds, self.batches
        env_step = s["env_step"] if "env_step" in s else s["env_total"]
        parts = {
            "env_step": env_step,
            "policy": s["policy"],
            "transforms": max(0.0, s["env_total"] - env_step),
            "collector": max(0.0, s["collect_total"] - s["env_total"] - s["policy"]),
            "replay_add": s["replay_add"],
            "replay_sample": s["replay_sample"],
            "gradient": max(0.0, s["update_total"] - s["replay_add"] - s["replay_sample"] - s["target_update"]),
            "target_update": s["target_update"],
            "evaluation": s["evaluation"],
            "logging": s["logging"],
        }
        values = {BATCH_TIMES[name].name: 1000 * seconds / n for name, seconds in parts.items()}
        cpu = self._cpu()
        values[CPU_USAGE.name] = 100 * (cpu - self.cpu_since) / max(now - self.since, 1e-9)
        rss = rss_bytes()
        if rss is not None:
            values[RAM_USAGE.name] = rss / 2**20
        if device is not None and getattr(device, "type", "") == "cuda":
            import torch

            values[GPU_USAGE.name] = torch.cuda.memory_allocated(device) / 2**20
        self.seconds.clear()
        self.batches = 0
        self.since, self.cpu_since = now, cpu
        return values
