"""The ray backend on a real local Ray cluster of two worker nodes (``ray.cluster_utils.Cluster``):
collectors on both nodes, pause, a live lr change, a checkpoint, stop and resume; async actors
checkpointed mid-run; a headless run on Ray stopped by SIGTERM.

The head node has no CPUs and each worker node one, and each collector actor asks for one CPU,
so the two collectors can only run one per worker node; the test still reads where each ran.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest
from conftest import PATIENCE_S, TINY_DQN, collection, needs, tiny_dqn, train_run, wait_until

from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.protocol import CheckpointNow, Checkpointed, HparamsChanged, Metrics, Pause, Resume, SetHparams, StatusChanged
from tui_rl.engine.runs.folder import is_run_dir, read_summary

#: small nodes: this machine is shared and has two cores
NODE_OBJECT_STORE_BYTES = 80 * 1024**2


@pytest.fixture
def two_node_cluster():
    needs("ray", "ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": NODE_OBJECT_STORE_BYTES, "include_dashboard": False},
    )
    try:
        nodes = [cluster.add_node(num_cpus=1, object_store_memory=NODE_OBJECT_STORE_BYTES) for _ in range(2)]
        cluster.wait_for_nodes()
        yield cluster, {node.node_id for node in nodes}
    finally:
        cluster.shutdown()


def node_ids(collection) -> list[str]:
    """The Ray node each collector actor of a ray-backend Collection runs on."""
    import ray

    def node_id(actor_self) -> str:
        return ray.get_runtime_context().get_node_id()

    return [ray.get(actor.__ray_call__.remote(node_id)) for actor in collection.collector.remote_collectors]


@pytest.mark.slow
def test_ray_collectors_on_two_nodes_train_through_pause_lr_checkpoint_stop_and_resume(two_node_cluster, runs_dir, recwarn):
    from tui_rl.engine.runs.record import create_run
    from tui_rl.engine.runs.folder import read_config
    from tui_rl.engine.run.trainer import Trainer

    cluster, worker_nodes = two_node_cluster
    config = tiny_dqn(
        "collector.backend=ray", "collector.workers=2", f"collector.ray_address={cluster.address}",
        "collector.total_frames=100000000", "eval.every_frames=100000000", "checkpoint.every_frames=100000000",
    )
    run_dir = create_run(config, name="ray", runs_dir=runs_dir)
    events: list = []
    trainer = Trainer(config, run_dir, events.append)
    thread = threading.Thread(target=trainer.run, name="ray-trainer")
    thread.start()
    try:
        def seen(predicate):
            return wait_until(lambda: next((e for e in list(events) if predicate(e)), None))

        seen(lambda e: isinstance(e, Metrics) and "worker1_fps" in e.values)
        # weight sync was connected when the collection was built, not inside the first batches
        # (it takes seconds, and made Ray look 100 times slower than worker processes)
        assert not [w for w in recwarn.list if "before weight synchronization was initialized" in str(w.message)]
        assert set(node_ids(trainer.parts.collector)) == worker_nodes
        trainer.submit(Pause())
        seen(lambda e: isinstance(e, StatusChanged) and e.state == "paused")
        trainer.submit(SetHparams({"optim.lr": 5e-4}))
        seen(lambda e: isinstance(e, HparamsChanged))
        trainer.submit(CheckpointNow())
        seen(lambda e: isinstance(e, Checkpointed))
        trainer.submit(Resume())
        seen(lambda e: isinstance(e, Metrics) and e.values.get("lr") == 5e-4)
    finally:
        trainer.stop("the test is done")
        thread.join(timeout=120)
    assert trainer.state == "stopped", trainer.reason
    frames_by_worker = trainer.parts.collector.tally.worker_frames
    assert len(frames_by_worker) == 2 and min(frames_by_worker) > 0, frames_by_worker
    stopped_at = trainer.counters.frames

    resumed = read_config(run_dir)  # with the live lr change
    resumed.collector.total_frames = stopped_at + 200
    again, more = train_run(resumed, run_dir, from_checkpoint=True)
    assert again.state == "finished", again.reason
    assert again.counters.frames >= stopped_at + 200
    assert [e for e in more if isinstance(e, Metrics)][-1].values["lr"] == 5e-4


@pytest.mark.slow
def test_async_ray_workers_checkpoint_their_env_state_without_losing_a_batch(two_node_cluster):
    """Each actor answers state_dict after the batch it is on: nothing dropped, nothing stalled.
    Weights go only to the actor whose batch was taken (the other is busy), and its version is noted
    then: the newest is the learner's."""
    cluster, _ = two_node_cluster
    found, env = collection(
        "collector.backend=ray", "collector.workers=2", "collector.sync=false", f"collector.ray_address={cluster.address}"
    )
    batches = iter(found)
    try:
        next(batches)
        state = found.state_dict()  # mid-run: the other actor is on a batch
        assert set(state) == {"worker0", "worker1"}
        assert all("env_state_dict" in worker and worker["frames"] > 0 for worker in state.values())
        before = list(found.tally.worker_frames)
        wait_until(lambda: next(batches) is not None and all(
            now > then for now, then in zip(found.tally.worker_frames, before)), what="both actors collecting on")
        assert max(found.tally.worker_versions) == found.version
        assert None not in found.tally.worker_versions
    finally:
        found.shutdown()
        env.close()


@pytest.mark.slow
def test_sigterm_stops_a_headless_ray_run_with_a_checkpoint(runs_dir):
    """Ray's own SIGTERM handler (installed by ray.init) would exit without a checkpoint or summary."""
    needs("ray", "ray")
    settings = [*TINY_DQN, "collector.total_frames=100000000", "collector.backend=ray", "collector.workers=1"]
    command = [sys.executable, "-m", "tui_rl.cli", "train", "cartpole-dqn", "--name", "on-ray",
               "--runs-dir", str(runs_dir), *(word for value in settings for word in ("--set", value))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = runs_dir / "on-ray"
    try:
        wait_until(lambda: is_run_dir(run_dir) and read_summary(run_dir).frames > 0, what="the first batch")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=PATIENCE_S)
    finally:
        process.kill()
    summary = read_summary(run_dir)
    assert (summary.status, summary.reason) == ("stopped", "terminated (SIGTERM)"), stderr
    assert CheckpointStore(run_dir, 2).latest().name == str(summary.frames)
