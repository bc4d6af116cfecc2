"""Every call into Ray goes through this module (the rest of the project never imports ray).

Outcomes of calls are mapped once to CallOutcome; Ray's exceptions never leak past here:
RayActorError -> CRASHED, RayTaskError -> APP_ERROR, GetTimeoutError -> TIMEOUT,
ActorUnavailableError -> UNAVAILABLE ("may have executed": retry only idempotent calls).

`lint-imports` (pyproject [tool.importlinter], contract "ray") fails when any other module imports Ray.
Ray's private APIs are used in two places only, each because Ray has no public equivalent here:
`_gcs_actor_rows` (actor states without the dashboard) and `declare_counter` (a counter at zero).
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cluster.foundation.domain.errors import DependencyDown, TradingError
from cluster.foundation.domain.settings import RaySettings

log = logging.getLogger("trading.ray")

LOCAL_MALLOC_ARENA_MAX = 2  # measured: about 2-3 % less RSS per Ray process of a live run (bench/live_latency.py)


class CallOutcome(enum.StrEnum):
    OK = "ok"
    PENDING = "pending"
    CRASHED = "crashed"
    UNAVAILABLE = "unavailable"
    APP_ERROR = "app_error"
    TIMEOUT = "timeout"


class ActorCallError(TradingError):
    def __init__(self, outcome: CallOutcome, message: str) -> None:
        super().__init__(f"{outcome}: {message}")
        self.outcome = outcome


@dataclass(frozen=True)
class ClusterInfo:
    address: str
    dashboard_url: str  # "" when the dashboard is off; always with a scheme otherwise
    namespace: str
    started_here: bool


def _ray() -> Any:
    import ray

    return ray


def init_cluster(
    rs: RaySettings, address: str | None = None, local_resources: dict[str, float] | None = None
) -> ClusterInfo:
    """Start a local cluster or join one. Chooses token auth explicitly (Ray 2.60 defaults it on)."""
    ray = _ray()
    os.environ["RAY_AUTH_MODE"] = rs.auth_mode
    target = address or rs.address
    if ray.is_initialized():
        ctx = ray.get_runtime_context()
        return ClusterInfo(ctx.gcs_address, "", rs.namespace, started_here=False)
    # Ray's own start-up lines would drown the CLI's one-line answers; warnings still show
    kwargs: dict[str, Any] = {"namespace": rs.namespace, "log_to_driver": rs.log_to_driver,
                              "logging_level": logging.WARNING}
    local = target == "local"
    if local:
        # The processes of a local cluster (GCS, raylet, agents, every worker) inherit this process's
        # environment: two glibc malloc arenas instead of up to 8 per core for each of their threads.
        os.environ.setdefault("MALLOC_ARENA_MAX", str(LOCAL_MALLOC_ARENA_MAX))
        kwargs.update(
            include_dashboard=rs.include_dashboard,
            dashboard_host=rs.dashboard_host,
            dashboard_port=rs.dashboard_port,
            _system_config={"metrics_report_interval_ms": rs.metrics_report_interval_ms,
                            "worker_niceness": rs.worker_niceness},
        )
        if rs.num_cpus:
            kwargs["num_cpus"] = rs.num_cpus
        if local_resources:
            kwargs["resources"] = local_resources
    try:
        ctx = ray.init(address=target, **kwargs)
    except ConnectionError as exc:
        raise DependencyDown(f"cannot reach the Ray cluster at {target!r}: {exc}") from exc
    dash = ctx.dashboard_url or ""
    if dash and not dash.startswith("http"):
        dash = f"http://{dash}"
    return ClusterInfo(ctx.address_info.get("gcs_address", target), dash, rs.namespace, started_here=local)


def shutdown() -> None:
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()


def is_initialized() -> bool:
    return bool(_ray().is_initialized())


_remote_classes: dict[type, Any] = {}


def start_actor(
    cls: type,
    name: str,
    namespace: str,
    *args: Any,
    num_cpus: float = 0.25,
    resources: dict[str, float] | None = None,
    max_restarts: int = -1,
    max_concurrency: int = 4,
    detached: bool = False,
) -> Any:
    """Create a named, restartable actor. Its methods run on a thread pool so that control calls are
    answered while its own loop thread works. A detached actor outlives the process that created it."""
    ray = _ray()
    remote = _remote_classes.get(cls)
    if remote is None:
        remote = _remote_classes[cls] = ray.remote(cls)
    options: dict[str, Any] = {"lifetime": "detached"} if detached else {}
    return remote.options(
        name=name,
        namespace=namespace,
        max_restarts=max_restarts,
        max_task_retries=0,
        num_cpus=num_cpus,
        resources=resources or {},
        max_concurrency=max_concurrency,
        **options,
    ).remote(*args)


def get_actor(name: str, namespace: str) -> Any | None:
    ray = _ray()
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        return None


def named_actors(namespace: str) -> list[str]:
    """The names of the live named actors in `namespace`."""
    found = _ray().util.list_named_actors(all_namespaces=True)
    return sorted(str(a["name"]) for a in found if a.get("namespace") == namespace)


def submit(handle: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Start a call; returns a reference to poll() or wait()."""
    return getattr(handle, method).remote(*args, **kwargs)


def _map(exc: BaseException) -> CallOutcome:
    ray = _ray()
    exc_mod = ray.exceptions
    if isinstance(exc, exc_mod.GetTimeoutError):
        return CallOutcome.TIMEOUT
    if isinstance(exc, getattr(exc_mod, "ActorUnavailableError", ())):
        return CallOutcome.UNAVAILABLE
    if isinstance(exc, exc_mod.RayActorError):
        return CallOutcome.CRASHED
    if isinstance(exc, exc_mod.RayTaskError):
        return CallOutcome.APP_ERROR
    raise exc


def wait(ref: Any, timeout_s: float) -> Any:
    """The call's result; raises ActorCallError with the mapped outcome."""
    ray = _ray()
    try:
        return ray.get(ref, timeout=timeout_s)
    except Exception as exc:
        outcome = _map(exc)
        cause = getattr(exc, "cause", None) or exc
        raise ActorCallError(outcome, str(cause).splitlines()[0] if str(cause) else type(cause).__name__) from exc


def call(handle: Any, method: str, *args: Any, timeout_s: float = 30.0, **kwargs: Any) -> Any:
    return wait(submit(handle, method, *args, **kwargs), timeout_s)


def poll(ref: Any) -> tuple[CallOutcome, Any]:
    """Non-blocking: (PENDING, None) until done, then (OK, value) or (outcome, error text)."""
    ray = _ray()
    ready, _ = ray.wait([ref], timeout=0)
    if not ready:
        return CallOutcome.PENDING, None
    try:
        return CallOutcome.OK, ray.get(ref, timeout=0)
    except Exception as exc:
        return _map(exc), str(exc).splitlines()[0]


def kill(handle: Any, no_restart: bool = True) -> None:
    ray = _ray()
    try:
        ray.kill(handle, no_restart=no_restart)
    except Exception as exc:  # already gone is fine
        log.debug("kill: %s", exc)


def actor_states(namespace: str, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """name -> {state, pid, node_id, num_restarts} for named actors of a namespace.

    Read from the GCS directly, so it works without the dashboard (the state API needs it)."""
    ray = _ray()
    rows = _gcs_actor_rows()
    if names is None:
        names = sorted({r["Name"] for r in rows.values() if r.get("Name")})
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        try:
            handle = ray.get_actor(name, namespace=namespace)
        except ValueError:
            continue
        row = rows.get(_actor_id_hex(handle))
        if row is None:
            continue
        out[name] = {
            "state": row.get("State"),
            "pid": row.get("Pid"),
            "node_id": (row.get("Address") or {}).get("NodeID"),
            "num_restarts": int(row.get("NumRestarts") or 0),
        }
    return out


def _gcs_actor_rows() -> dict[str, dict[str, Any]]:
    """actor id (hex) -> the GCS actor table row.

    Ray's public state API (`ray.util.state.list_actors`) goes through the dashboard: it fails where the
    dashboard is off (`ray.include_dashboard = false`, as in the integration tests), and where this
    cluster registered no dashboard it asks 127.0.0.1:8265, which on a shared host may be another
    cluster's. The GCS table (`ray._private.state.actors`, a DeveloperAPI) has no such dependency."""
    from ray._private import state

    return dict(state.actors())


def _actor_id_hex(handle: Any) -> str:
    """The actor id of a handle, the GCS table's key. Ray 2.60 offers it only as the handle's `_actor_id`
    (inside the actor, `ray.get_runtime_context().get_actor_id()` is the public form)."""
    return str(handle._actor_id.hex())


_node_ip: str | None = None


def node_ip() -> str:
    """The address of the node this process runs on, as the Ray cluster knows it (its raylet's address)."""
    global _node_ip
    if _node_ip is None:
        ray = _ray()
        if not ray.is_initialized():
            return str(ray.util.get_node_ip_address())
        node_id = ray.get_runtime_context().get_node_id()
        found = [n["NodeManagerAddress"] for n in ray.nodes() if n.get("NodeID") == node_id]
        _node_ip = found[0] if found else str(ray.util.get_node_ip_address())
    return _node_ip


def node_addresses() -> dict[str, str]:
    """node_id -> address of every live node."""
    return {n["NodeID"]: n["NodeManagerAddress"] for n in _ray().nodes() if n.get("Alive")}


def was_reconstructed() -> bool:
    """True inside an actor that Ray restarted (read once, in __init__)."""
    ray = _ray()
    try:
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:
        return False


def cluster_resources() -> dict[str, float]:
    return dict(_ray().cluster_resources())


def metrics_export_port() -> int:
    """Port of this node's Prometheus metrics export (Ray's metrics agent), 0 if unknown."""
    ray = _ray()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    here = [n for n in nodes if n.get("NodeID") == node_id] or nodes
    return int(here[0].get("MetricsExportPort") or 0) if here else 0


def job_submission_client(address: str, headers: dict[str, str] | None) -> Any:
    """Ray's JobSubmissionClient for the job server at `address` (the dashboard's REST API)."""
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address, headers=headers)


def metric(
    kind: str, name: str, description: str, tag_keys: tuple[str, ...], boundaries: Sequence[float] = ()
) -> Any:
    """A ray.util.metrics object: kind is "counter", "gauge" or "histogram"."""
    from ray.util import metrics

    if kind == "counter":
        return metrics.Counter(name, description=description, tag_keys=tag_keys)
    if kind == "gauge":
        return metrics.Gauge(name, description=description, tag_keys=tag_keys)
    if kind == "histogram":
        return metrics.Histogram(name, description=description, boundaries=list(boundaries), tag_keys=tag_keys)
    raise ValueError(f"unknown metric kind {kind!r}")


def declare_counter(counter: Any, tags: dict[str, str]) -> None:
    """Make a counter series exist at 0. `Counter.inc` refuses 0 and Ray has no public call for it, so
    this records 0 through the counter's `_record`, the method `inc` itself calls."""
    counter._record(0.0, tags=tags)
