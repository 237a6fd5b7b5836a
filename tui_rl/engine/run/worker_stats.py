"""The figures of the Train screen's workers panel, as metric values (so they reach the app, the
CLI and the run's metric files like any other; config/metrics.py names them): per collector worker its frames/s, whether it is
alive and how many updates its policy is behind the learner's; the frames/s of the whole
collection; and the replay buffer's fill, write rate and update-to-data ratio.

Where they come from: TorchRL's own ``stats()`` snapshots wherever asking is safe, batch tags
only where it is not.

- Replay: always ``ReplayBuffer.stats()`` (``utilization``, ``write_count``).
- Collection: the collector's ``stats()``: its frame counter and, for worker backends,
  ``workers_alive``. Per worker ``frames`` and ``policy_version`` come from
  ``stats(workers="per_worker")`` when the workers are idle between batches (the single and the
  sync backends): a multi-process collector asks its workers through the control pipes, a Ray
  collector calls each actor.
- Async backends (``collector.sync = false``): their workers are mid-batch whenever the trainer
  looks, so a per-worker question would stall the iteration (a pipe answer waits for the batch,
  a Ray actor's answer queues behind it and times out as "dead"); and every Ray ``stats()`` call
  asks each actor, even the aggregate one. There, each worker's env stamps its frames with its
  index (``collector_worker``) and TorchRL's ``track_policy_version`` stamps them with the policy
  version they were collected under (``policy_version``); the tally counts those.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from tensordict import TensorDictBase

from tui_rl.config import RunConfig
from tui_rl.config.metrics import (
    COLLECT_FPS,
    REPLAY_FILL,
    REPLAY_UTD,
    REPLAY_WRITES,
    WORKER_ALIVE,
    WORKER_FPS,
    WORKER_LAG,
    WORKERS_ALIVE,
)

#: the entry each worker's frames carry its index in (async backends)
WORKER_KEY = "collector_worker"
#: TorchRL's entry for the policy version a frame was collected under
VERSION_KEY = "policy_version"
#: how often the figures are recomputed (asking the workers costs a round trip each)
STATS_EVERY_S = 1.0


class Marked:
    """Figures recomputed at most once every :data:`STATS_EVERY_S`, as rates since the last time."""

    def __init__(self, counters: Any = None) -> None:
        #: when the figures were last computed, and the counters then (None: not yet known)
        self.mark: tuple[float, Any] | None = None if counters is None else (time.monotonic(), counters)
        #: the figures last computed
        self.values: dict[str, float] = {}
        self._last = 0.0

    def due(self) -> bool:
        return not self.values or time.monotonic() - self._last >= STATS_EVERY_S

    def elapsed(self, counters: Any) -> tuple[float, Any] | None:
        """Seconds since the last mark and the counters then (None the first time: no rate yet);
        marks now with ``counters``."""
        now, mark = time.monotonic(), self.mark
        self.mark, self._last = (now, counters), now
        return None if mark is None else (max(now - mark[0], 1e-9), mark[1])


class WorkerTally(Marked):
    """Frames and newest policy version per worker, from TorchRL's stats or from batch tags."""

    def __init__(self, workers: int) -> None:
        super().__init__((0, [0] * workers))  # the first rates count from the collector's start
        self.workers = workers
        #: frames collected so far (the collector's own counter)
        self.frames = 0
        self.worker_frames = [0] * workers
        self.worker_versions: list[int | None] = [None] * workers
        #: TorchRL's count of live workers, where it gave one
        self.workers_alive: int | None = None

    def take(self, stats: Mapping[str, Any]) -> None:
        """Counters from a TorchRL ``stats()`` snapshot (per-worker entries ``worker_<i>/...``)."""
        if "frames" in stats:
            self.frames = int(stats["frames"])
        self.workers_alive = stats.get("workers_alive")
        for i in range(self.workers):
            if f"worker_{i}/frames" in stats:
                self.worker_frames[i] = int(stats[f"worker_{i}/frames"])
            version = stats.get(f"worker_{i}/policy_version")
            if isinstance(version, int):
                self.worker_versions[i] = version

    def add(self, batch: TensorDictBase, versions: bool = True) -> None:
        """Per-worker frames and (with ``versions``) policy versions from a batch's tags (async
        backends)."""
        workers = batch.get(WORKER_KEY, None)
        if workers is None:
            return
        workers = workers.reshape(-1)
        self.worker_frames = [
            n + int(c) for n, c in zip(self.worker_frames, torch.bincount(workers, minlength=self.workers))
        ]
        versions = batch.get(VERSION_KEY, None) if versions else None
        if versions is None:
            return
        versions = versions.reshape(-1)
        for index in workers.unique().tolist():
            newest = int(versions[workers == index].max())
            self.worker_versions[index] = max(newest, self.worker_versions[index] or 0)

    def counters(self) -> tuple[int, list[int]]:
        return self.frames, list(self.worker_frames)

    def restart(self, stats: Mapping[str, Any]) -> None:
        """Counters restored from a checkpoint (``stats``): rates count from here, not from zero."""
        self.take(stats)
        self.mark = (time.monotonic(), self.counters())

    def values_now(self, alive: list[bool], learner_version: int) -> dict[str, float]:
        """Collection frames/s; with workers, how many are alive and per worker its frames/s,
        whether it is alive and its policy lag."""
        since = self.elapsed(self.counters())
        values: dict[str, float] = {}
        if since is not None:
            seconds, (frames, worker_frames) = since
            values[COLLECT_FPS.name] = max(self.frames - frames, 0) / seconds
        if alive:
            values[WORKERS_ALIVE.name] = float(sum(alive) if self.workers_alive is None else self.workers_alive)
            for i in range(self.workers):
                if since is not None:
                    values[WORKER_FPS.name(i)] = max(self.worker_frames[i] - worker_frames[i], 0) / seconds
                values[WORKER_ALIVE.name(i)] = float(alive[i])
                version = self.worker_versions[i]
                if version is not None:
                    values[WORKER_LAG.name(i)] = float(max(learner_version - version, 0))
        self.values = values
        return values


class ReplayTally(Marked):
    """Replay buffer fill and write rate from ``ReplayBuffer.stats()``, and the update-to-data
    ratio (gradient steps per frame)."""

    def values_now(self, buffer: Any, config: RunConfig) -> dict[str, float]:
        if not self.due():
            return self.values
        stats = buffer.stats()
        since = self.elapsed(stats["write_count"])
        values = {REPLAY_FILL.name: float(stats.get("utilization", 0.0))}
        if since is not None:
            seconds, writes = since
            values[REPLAY_WRITES.name] = max(stats["write_count"] - writes, 0) / seconds
        updates = getattr(config.algorithm, "updates_per_batch", None)
        if updates is not None:
            values[REPLAY_UTD.name] = updates / config.collector.frames_per_batch
        self.values = values
        return values
