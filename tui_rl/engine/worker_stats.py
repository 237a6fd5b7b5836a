"""The figures of the Train screen's workers panel, as metric values (so they reach the app, the
CLI and the run's metric files like any other): per collector worker its frames/s, whether it is
alive and how many updates its policy is behind the learner's; the frames/s of the whole
collection; and the replay buffer's fill, write rate and update-to-data ratio.

Per-worker frames and policy versions are read from the batches themselves: each worker's env
stamps its frames with the worker's index (``collector_worker``), and TorchRL's
``track_policy_version`` stamps them with the policy version they were collected under
(``policy_version``). Asking the workers instead would stall an async collector (see
:attr:`Collection.quiet_control`).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from tensordict import TensorDictBase

from tui_rl.config import RunConfig

#: the entry each worker's frames carry its index in
WORKER_KEY = "collector_worker"
#: TorchRL's entry for the policy version a frame was collected under
VERSION_KEY = "policy_version"
#: how often the figures are recomputed (liveness may ask remote workers)
STATS_EVERY_S = 1.0


class WorkerTally:
    """Frames and newest policy version seen per worker, turned into rates once a second."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.frames = 0
        self.worker_frames = [0] * workers
        self.worker_versions: list[int | None] = [None] * workers
        self._mark = (time.monotonic(), 0, [0] * workers)
        #: the figures last computed
        self.values: dict[str, float] = {}

    def add(self, batch: TensorDictBase) -> None:
        self.frames += batch.numel()
        workers = batch.get(WORKER_KEY, None)
        if workers is None:
            return
        workers = workers.reshape(-1)
        self.worker_frames = [
            n + int(c) for n, c in zip(self.worker_frames, torch.bincount(workers, minlength=self.workers))
        ]
        versions = batch.get(VERSION_KEY, None)
        if versions is None:
            return
        versions = versions.reshape(-1)
        for index in workers.unique().tolist():
            newest = int(versions[workers == index].max())
            self.worker_versions[index] = max(newest, self.worker_versions[index] or 0)

    def due(self) -> bool:
        return not self.values or time.monotonic() - self._mark[0] >= STATS_EVERY_S

    def values_now(self, alive: list[bool], learner_version: int) -> dict[str, float]:
        """``collect_fps``; with workers, ``workers_alive`` and per worker ``worker<i>_fps``,
        ``worker<i>_alive`` and ``worker<i>_lag``."""
        now = time.monotonic()
        since, frames, worker_frames = self._mark
        elapsed = max(now - since, 1e-9)
        values = {"collect_fps": (self.frames - frames) / elapsed}
        if alive:
            values["workers_alive"] = float(sum(alive))
            for i in range(self.workers):
                values[f"worker{i}_fps"] = (self.worker_frames[i] - worker_frames[i]) / elapsed
                values[f"worker{i}_alive"] = float(alive[i])
                version = self.worker_versions[i]
                if version is not None:
                    values[f"worker{i}_lag"] = float(max(learner_version - version, 0))
        self._mark = (now, self.frames, list(self.worker_frames))
        self.values = values
        return values


def replay_stats(buffer: Any, config: RunConfig, writes_before: int, seconds: float) -> dict[str, float]:
    """Replay buffer fill and write rate, and the update-to-data ratio (gradient steps per frame)."""
    values = {
        "replay_fill": len(buffer) / buffer.storage.max_size,
        "replay_writes_per_s": (buffer.write_count - writes_before) / max(seconds, 1e-9),
    }
    updates = getattr(config.algorithm, "updates_per_batch", None)
    if updates is not None:
        values["replay_utd"] = updates / config.collector.frames_per_batch
    return values
