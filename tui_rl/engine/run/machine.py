"""What this machine offers a run: CPU cores, CUDA devices, and whether a Ray cluster answers.

Setup shows these beside ``collector.backend``, ``collector.workers`` and ``device``; the preflight
check (engine/run/preflight.py) uses them to refuse what cannot run and warn about what runs badly.
Nothing here imports torch or ray at module level.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tui_rl.config.models import ray_host_port
from tui_rl.engine.extras import install_line, installed

#: how long a Ray address has to accept a connection
RAY_CONNECT_TIMEOUT_S = 4.0
#: where a Ray head started on this machine writes its address (Ray's own convention)
RAY_CURRENT_CLUSTER = Path("/tmp/ray/ray_current_cluster")


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def gpus() -> list[str]:
    """Names of the CUDA devices torch sees (imports torch)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def has_ray() -> bool:
    return installed("ray")


def running_ray_address() -> str | None:
    """The address ``ray.init(address="auto")`` would join: ``RAY_ADDRESS``, else a head started
    on this machine with ``ray start --head``; None when there is neither."""
    address = os.environ.get("RAY_ADDRESS", "").strip()
    if address:
        return address
    try:
        return RAY_CURRENT_CLUSTER.read_text().strip() or None
    except OSError:
        return None


def ray_unreachable(address: str) -> str | None:
    """Why the Ray cluster at ``address`` ('auto', host:port or ray://host:port) cannot be joined,
    or None when a gRPC server answers there; answers within twice :data:`RAY_CONNECT_TIMEOUT_S`."""
    if address == "auto":
        found = running_ray_address()
        if found is None:
            return "no Ray cluster is running on this machine and RAY_ADDRESS is not set (`ray start --head` starts one)"
        address = found
    target = ray_host_port(address)
    if target is None:
        return f"{address!r} is not host:port or ray://host:port"
    try:
        with socket.create_connection(target, timeout=RAY_CONNECT_TIMEOUT_S):
            pass
    except socket.timeout:
        return f"no answer from {target[0]}:{target[1]} within {RAY_CONNECT_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    return grpc_unanswered(target, client=address.startswith("ray://"))


def grpc_unanswered(target: tuple[str, int], client: bool) -> str | None:
    """Why no Ray server answers at ``target``: a port that accepts connections may belong to
    anything (or to a proxy), so one of Ray's own gRPC calls is made, with an empty request: the
    GCS's liveness check, or the Ray Client server's cluster info for ``ray://``."""
    import grpc  # installed with ray

    where = f"{target[0]}:{target[1]}"
    method = "/ray.rpc.RayletDriver/ClusterInfo" if client else "/ray.rpc.NodeInfoGcsService/CheckAlive"
    channel = grpc.insecure_channel(where)
    try:
        channel.unary_unary(method)(b"", timeout=RAY_CONNECT_TIMEOUT_S)
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return f"no Ray server answered at {where} within {RAY_CONNECT_TIMEOUT_S:.0f} s ({details})"
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return f"{where} answers, but not as a Ray server ({details})"
    finally:
        channel.close()
    return None


def describe(ray_address: str) -> str:
    """One line for Setup: cores, GPUs and the Ray cluster the config would use."""
    count = cores()
    found = gpus()
    gpu_text = f"{len(found)} GPU ({found[0]})" if len(found) == 1 else f"{len(found)} GPUs" if found else "no GPU"
    if not has_ray():
        ray_text = f"Ray not installed ({install_line('ray')})"
    elif not ray_address.strip():
        ray_text = "Ray: the ray backend starts a local instance (collector.ray_address joins a cluster)"
    else:
        problem = ray_unreachable(ray_address.strip())
        ray_text = f"Ray {ray_address}: {'reachable' if problem is None else problem}"
    return f"This machine: {count} CPU core{'s' * (count != 1)} · {gpu_text} · {ray_text}"
