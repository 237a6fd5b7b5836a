"""The run's collector for each ``collector.backend``, all TorchRL's own.

``single``: one :class:`~torchrl.collectors.Collector` in the trainer process, running the
learner's own modules. ``processes``: TorchRL's :class:`~torchrl.collectors.MultiSyncCollector` /
:class:`~torchrl.collectors.MultiAsyncCollector`, one worker process per ``collector.workers``.
``ray``: TorchRL's :class:`~torchrl.collectors.distributed.RayCollector`, one Ray actor per worker,
on a local Ray instance or the cluster at ``collector.ray_address``.

:class:`Collection` hides the difference from the training loop: it yields batches of the single
collector's shape, pushes the learner's weights to the workers through TorchRL's weight sync
schemes before each batch (so every batch after an update is collected with the updated policy),
turns a dead worker into :class:`WorkerLost` naming the worker and why, and reports the workers
panel's figures from TorchRL's ``stats()`` (engine/run/worker_stats.py says which, and why async
backends count batch tags instead).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase
from torchrl.collectors import Collector, MultiAsyncCollector, MultiSyncCollector
from torchrl.data import Unbounded
from torchrl.envs import EnvBase, TensorDictPrimer
from torchrl.weight_update import SharedMemWeightSyncScheme

from tui_rl.config import RunConfig
from tui_rl.config.models import MAX_SEED, CollectorConfig
from tui_rl.engine.run.health import TrainingFailed
from tui_rl.engine.run.worker_stats import WORKER_KEY, WorkerTally

#: a seed stride between workers, so their envs do not replay the same episodes
SEED_STRIDE = 10_007
#: how long ``shutdown`` lets worker processes exit on their own before they are killed
SHUTDOWN_TIMEOUT_S = 10.0
#: how often a worker process checks that its trainer is still there
PARENT_POLL_S = 0.5
#: how long Ray actors have to say they are alive
RAY_STATS_TIMEOUT_S = 2.0
#: frames a Ray collector is asked for: endless (it does not take -1); the trainer keeps the budget
ENDLESS = 2**62
#: what a local Ray instance started for a run may take (the object store holds only batches)
LOCAL_RAY_OBJECT_STORE_BYTES = 100 * 1024**2


#: how a worker that TorchRL ended (after another one died) ended
TORCHRL_ENDED = "killed by SIGTERM"
#: what a run that lost a worker says of its checkpoints (the trainer fails it; nothing is removed)
KEPT = "the run stopped with its last checkpoint kept"


class WorkerLost(TrainingFailed):
    """A collector worker died; the message names it and why (its exit code or signal)."""


class WorkerEnv:
    """Makes worker ``index``'s env in the worker's own process (picklable under ``spawn``)."""

    def __init__(self, config: RunConfig, index: int) -> None:
        self.config = config
        self.index = index

    def __call__(self) -> EnvBase:
        from tui_rl.engine.envs.making import make_env

        parent = multiprocessing.parent_process()
        if parent is not None:  # a worker process, not the trainer (which Popen starts)
            exit_with_parent(parent.pid)
        config = self.config.model_copy(deep=True)
        config.env.seed = (config.env.seed + SEED_STRIDE * self.index) % MAX_SEED
        env = make_env(config)
        if not config.collector.sync:
            # async workers cannot be asked for their stats mid-batch: every frame says which worker
            # made it, and the workers panel counts frames and lag from that
            env.append_transform(
                TensorDictPrimer(
                    {WORKER_KEY: Unbounded(shape=(1,), dtype=torch.int64)}, default_value=self.index, expand_specs=True
                )
            )
        return env


def exit_with_parent(parent_pid: int) -> None:
    """End this worker process as soon as its trainer is gone, however it went (SIGKILL too).
    TorchRL's workers notice a closed pipe only after their own timeouts (about 11 s here), and a
    watching thread may wait that long for the GIL on a busy machine: on Linux the kernel sends the
    signal (``PR_SET_PDEATHSIG``); elsewhere a thread polls."""
    global _WATCHING
    if _WATCHING:
        return
    _WATCHING = True
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # it died before the request was made
            os._exit(0)
        return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(0)  # the trainer that would collect from or clean up after us is gone

    threading.Thread(target=watch, name="exit-with-trainer", daemon=True).start()


_WATCHING = False
#: Linux's prctl option: the signal this process gets when its parent thread ends
PR_SET_PDEATHSIG = 1


class Collection:
    """The run's TorchRL collector with the bookkeeping the trainer and the workers panel need."""

    def __init__(self, config: RunConfig, env: EnvBase, policy: TensorDictModuleBase, device: torch.device) -> None:
        self.config = config
        self.backend = config.collector.backend
        self.workers = config.collector.workers if self.backend != "single" else 1
        self.device = device
        #: updates pushed to the workers: the learner's policy version
        self.version = 0
        #: whether per-worker figures come from batch tags (async workers cannot be asked)
        self.tagged = not self.quiet_control
        self.collector = build(config, env, policy, device)
        if self.backend == "ray":
            # TorchRL connects Ray weight sync on the first push (a connection actor, a TCP store, a
            # gloo group: seconds, tens of them on a loaded machine). Here, not inside a batch.
            self.push_weights()
        self.tally = WorkerTally(self.workers)  # (its first rates count from here)

    @property
    def quiet_control(self) -> bool:
        """Whether the workers may be asked things between batches. An async TorchRL collector's
        workers are mid-batch then: a question waits for the batch (a worker process even drops
        it, see :meth:`state_dict`)."""
        return self.config.collector.backend == "single" or self.config.collector.sync

    # ---- what the trainer uses ----------------------------------------------------------------

    def __iter__(self) -> Iterator[TensorDictBase]:
        batches = iter(self.collector)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as exc:
                raise self.lost_worker(exc) or exc from None
            batch = self.shaped(batch)
            if self.tagged:
                self.tally.add(batch, versions=self.backend == "processes")
            # an async Ray batch comes from one actor, the one idle now
            source = int(batch.get(WORKER_KEY).reshape(-1)[0]) if self.backend == "ray" and self.tagged else None
            yield batch
            # resumed by the trainer's next(): its update is done, so the workers get its weights
            try:
                self.push_weights(source)
            except Exception as exc:
                raise self.lost_worker(exc) or exc from None

    def push_weights(self, source: int | None = None) -> None:
        """The learner's weights to every worker, or only to ``source``: in an async Ray run the
        others are on a batch, and a push to a busy actor waits for its batch (TorchRL's own async
        Ray loop pushes the same way). A worker pushed to alone counts its pushes, not the
        learner's versions, so its version is noted here, not read from its frames."""
        if self.backend == "single":
            return  # the collector runs the learner's own modules
        if self.backend == "processes":  # (a dead Ray actor fails the push itself)
            for index, alive, reason in self.liveness():
                if not alive:  # TorchRL would wait for a dead worker process forever
                    raise self.lost(index, reason)
        self.collector.update_policy_weights_(worker_ids=source)
        self.version += 1
        if source is not None:
            self.tally.worker_versions[source] = self.version

    def shaped(self, batch: TensorDictBase) -> TensorDictBase:
        """The single collector's shape (envs..., time), on the training device: a sync batch
        stacks its workers in front, which become more envs."""
        if self.backend != "single" and self.config.collector.sync and batch.ndim > 1:
            batch = batch.reshape(-1, batch.shape[-1])
        return batch.to(self.device)

    def state_dict(self) -> dict[str, Any]:
        """The workers' env state (transform statistics) and counters. A Ray actor answers after
        the batch it is on (an async run waits for at most one batch per checkpoint). Async worker
        processes are never idle and cannot be asked: one that gets a message mid-batch drops that
        batch and then waits for an order the collector never sends (torchrl/collectors/_runner.py),
        so their envs start afresh on resume."""
        if self.backend == "processes" and not self.config.collector.sync:
            return {}
        state = self.collector.state_dict()
        if isinstance(state, list):  # Ray: one per actor
            return {f"worker{i}": s for i, s in enumerate(state)}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        if self.backend == "ray":
            self.collector.load_state_dict([state[f"worker{i}"] for i in range(self.workers)])
        else:
            self.collector.load_state_dict(state)
        self.tally.restart(self.asked())

    def shutdown(self) -> None:
        if self.backend == "processes":
            self.collector.shutdown(timeout=SHUTDOWN_TIMEOUT_S, raise_on_error=False)
        else:
            self.collector.shutdown()

    # ---- workers ------------------------------------------------------------------------------

    def lost_worker(self, exc: Exception) -> WorkerLost | None:
        """The dead worker behind a collection error, or None when all are alive."""
        if isinstance(exc, WorkerLost):
            return exc
        dead = [(index, reason) for index, alive, reason in self.liveness() if not alive]
        # TorchRL ends the others with SIGTERM once it sees one dead: the one it saw goes first
        dead.sort(key=lambda found: found[1] == TORCHRL_ENDED)
        if dead:
            return self.lost(*dead[0])
        if self.backend == "ray" and "Actor" in type(exc).__name__:  # RayActorError, ActorDiedError, ...
            return WorkerLost(f"a Ray collector worker died ({first_line(exc)}); {KEPT}")
        if "process failed" in str(exc):  # TorchRL's words once it has closed the dead process
            return WorkerLost(f"collector {first_line(exc)}; {KEPT}")
        return None

    def lost(self, index: int, reason: str) -> WorkerLost:
        return WorkerLost(f"collector worker {index} of {self.workers} died ({reason}); {KEPT}")

    def liveness(self, asked: dict[str, Any] | None = None) -> list[tuple[int, bool, str]]:
        """Per worker: its index, whether it is alive, and how it ended when not. Ray actors are
        asked (in sync mode only: an async actor is busy with its batch), or their answers in
        ``asked`` read; others count as alive."""
        if self.backend == "processes":
            found = []
            for index, proc in enumerate(self.collector.procs):
                try:
                    alive = proc.is_alive()
                except ValueError:  # closed: TorchRL ended it after another one died
                    found.append((index, True, ""))
                    continue
                found.append((index, alive, "" if alive else exit_reason(proc)))
            return found
        if self.backend == "ray" and self.quiet_control:
            if asked is None:
                asked = self.collector.stats(workers="per_worker", timeout=RAY_STATS_TIMEOUT_S)
            return [(i, f"worker_{i}/frames" in asked, "no answer") for i in range(self.workers)]
        return [(i, True, "") for i in range(self.workers)]

    def stats(self) -> dict[str, float]:
        """The workers panel's collector figures, as metric values (see engine/run/worker_stats.py)."""
        if not self.tally.due():
            return self.tally.values
        asked = self.asked()
        self.tally.take(asked)
        alive = [ok for _, ok, _ in self.liveness(asked)] if self.backend != "single" else []
        return self.tally.values_now(alive, self.version)

    def asked(self) -> dict[str, Any]:
        """TorchRL's ``stats()`` of the collector; per worker only where the workers are idle."""
        collector = self.collector
        if self.backend == "single":
            return collector.stats()
        if self.backend == "ray":
            if not self.quiet_control:  # its stats() calls every actor, which is busy with a batch
                return {"frames": collector.collected_frames}
            return collector.stats(workers="both", timeout=RAY_STATS_TIMEOUT_S)
        aggregate = collector.stats()  # counters and process liveness: nothing goes through the pipes
        if not self.quiet_control or aggregate.get("workers_alive", self.workers) < self.workers:
            return aggregate  # (asking through a dead worker's pipe raises)
        return collector.stats(workers="both")


def random_frames(config: CollectorConfig) -> int:
    """``init_random_frames`` rounded up to whole batches: the collector plays random actions for
    whole batches anyway, and says so in a warning when the number is not a multiple."""
    batch = config.frames_per_batch
    return -(-config.init_random_frames // batch) * batch


def build(config: RunConfig, env: EnvBase, policy: TensorDictModuleBase, device: torch.device):
    """The TorchRL collector of ``config.collector.backend``."""
    backend, workers = config.collector.backend, config.collector.workers
    # Ray actors may sit on machines without the learner's GPU: their policy runs on CPU.
    on = torch.device("cpu") if backend == "ray" else device
    common: dict[str, Any] = {
        "frames_per_batch": config.collector.frames_per_batch,
        "init_random_frames": 0 if config.algorithm.on_policy else random_frames(config.collector),
        "policy_device": on,
        "storing_device": on,
        "env_device": "cpu",
        # TorchRL's own switches: a compiled policy, and CUDA graphs on CUDA
        "compile_policy": config.compile,
        "cudagraph_policy": config.compile and on.type == "cuda",
        # MLP policies need no InitTracker / primers; appending them would make the training
        # env's transforms differ from the evaluation env's.
        "auto_register_policy_transforms": False,
    }
    if backend == "single":
        return Collector(env, policy, total_frames=-1, **common)  # the trainer keeps the budget
    envs = [WorkerEnv(config, i) for i in range(workers)]
    if backend == "processes":
        # Weights go through shared memory; the workers apply them without the learner waiting for
        # their acknowledgement, which a worker that died would never send.
        common |= {
            "total_frames": -1,
            "track_policy_version": True,
            "weight_sync_schemes": {"policy": SharedMemWeightSyncScheme(sync=False)},
        }
        if config.collector.sync:
            return MultiSyncCollector(envs, policy, cat_results="stack", **common)
        return MultiAsyncCollector(envs, policy, **common)
    from torchrl.collectors.distributed import RayCollector

    # ray.init replaces the SIGTERM handler with one that exits at once (no checkpoint, no
    # summary, run.json left "running"): the run's own stop handler is put back
    own_sigterm = signal.getsignal(signal.SIGTERM)
    collector = RayCollector(
        envs,
        policy,
        frames_per_batch=common.pop("frames_per_batch"),
        init_random_frames=common.pop("init_random_frames"),
        total_frames=ENDLESS,
        sync=config.collector.sync,
        collector_kwargs={"track_policy_version": True, **common},
        ray_init_config=ray_init_config(config.collector.ray_address, workers),
        remote_configs={"num_cpus": 1, "scheduling_strategy": "SPREAD"},
    )
    if threading.current_thread() is threading.main_thread() and own_sigterm is not None:
        signal.signal(signal.SIGTERM, own_sigterm)
    return collector


def ray_init_config(address: str, workers: int) -> dict[str, Any]:
    """``ray.init`` keywords: join ``address``, or start a small local instance when it is empty,
    with a CPU for each worker even beyond the cores (the preflight check warns about that).

    A local instance keeps its session folders (sockets, logs, spilled objects), which Ray makes
    world-writable (0777), inside a fresh owner-only folder instead of the shared /tmp/ray."""
    from tui_rl.engine.run.machine import cores

    quiet = {"log_to_driver": False}  # actors print their collectors whole; the trainer log needs none of it
    if address.strip():
        return {"address": address.strip(), **quiet}
    return {
        "num_cpus": max(cores(), workers),
        "include_dashboard": False,
        "object_store_memory": LOCAL_RAY_OBJECT_STORE_BYTES,
        "_temp_dir": os.path.join(tempfile.mkdtemp(prefix="tui-rl-ray-", dir=os.environ.get("RAY_TMPDIR")), "ray"),
        **quiet,
    }


def exit_reason(proc: Any) -> str:
    code = proc.exitcode
    if code is None:
        return "gone"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
