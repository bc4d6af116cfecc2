"""`run --detach` and `stop`: a trading cluster that lives in the Ray cluster, not in a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

from cluster.app.supervisor_actor import SUPERVISOR_NAME, SupervisorActor
from cluster.foundation.domain.errors import ConfigError, DependencyDown
from cluster.foundation.domain.settings import Settings
from cluster.foundation.runtime import placement, ray_calls
from cluster.foundation.runtime.bus_curve import with_curve_keys

START_TIMEOUT_S = 180.0


def _join(settings: Settings, address: str | None) -> None:
    target = address or settings.ray.address
    if target == "local":
        raise ConfigError("--detach needs a running Ray cluster to live in: start one (`ray start --head "
                          "--port 6390`, KubeRay, `ray up`) and pass --address host:port or --address auto")
    ray_calls.init_cluster(settings.ray, target)


def start_detached(settings: Settings, address: str | None, timeout_s: float = START_TIMEOUT_S) -> int:
    """Create the detached supervisor and wait until it trades; 1 (one line) when one already runs."""
    settings = with_curve_keys(settings)  # in its constructor arguments: a restarted supervisor keeps them
    _join(settings, address)
    ns = settings.ray.namespace
    existing = ray_calls.get_actor(SUPERVISOR_NAME, ns)
    if existing is not None:
        where = _quiet_status(existing).get("node", "?")
        print(f"a trading cluster is already running in namespace '{ns}' (supervisor on {where}); "
              "see `trading-cluster status`, end it with `trading-cluster stop`", file=sys.stderr)
        return 1
    offered = placement.HEAD_RESOURCE in ray_calls.cluster_resources()
    resources = placement.supervisor_resources() if offered else None
    handle = ray_calls.start_actor(SupervisorActor, SUPERVISOR_NAME, ns, settings, num_cpus=0,
                                   resources=resources, detached=True, max_concurrency=8)
    deadline = time.monotonic() + timeout_s
    while True:
        status = _quiet_status(handle)
        if status.get("phase") in ("running", "done"):
            break
        if status.get("phase") == "failed":
            raise DependencyDown(f"the detached supervisor failed to start: {status.get('error')}")
        if time.monotonic() > deadline:
            raise DependencyDown(f"the detached supervisor did not start trading within {timeout_s:.0f}s "
                                 f"(phase {status.get('phase', 'unknown')})")
        time.sleep(0.5)
    print(f"trading cluster started in namespace '{ns}': supervisor on {status['node']}, "
          f"{len(status['groups'])} signal groups, control API {status['control_api'] or 'off'}")
    return 0


def stop_detached(settings: Settings, address: str | None, drain_s: float = 10.0) -> dict[str, Any] | None:
    """Drain and stop the detached cluster; its summary, or None when none runs."""
    _join(settings, address)
    handle = ray_calls.get_actor(SUPERVISOR_NAME, settings.ray.namespace)
    if handle is None:
        return None
    summary = ray_calls.call(handle, "stop", drain_s, timeout_s=drain_s + 60)
    ray_calls.kill(handle)
    return dict(summary)


def detached_status(settings: Settings, address: str | None) -> dict[str, Any] | None:
    _join(settings, address)
    handle = ray_calls.get_actor(SUPERVISOR_NAME, settings.ray.namespace)
    return None if handle is None else dict(ray_calls.call(handle, "status", timeout_s=30))


def _quiet_status(handle: Any) -> dict[str, Any]:
    try:
        return dict(ray_calls.call(handle, "status", timeout_s=10))
    except ray_calls.ActorCallError as exc:
        return {"phase": "unreachable", "error": str(exc)}
