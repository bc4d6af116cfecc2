"""Supervisor: a reconcile loop over the named actors of namespace `trading`.

Desired state: one market-data, risk and execution actor and one signal actor per symbol group.
Ray restarts a crashed actor by itself (max_restarts=-1); the supervisor creates what is missing or
dead for good, counts restarts, and shuts everything down in order (stop the feed, let the pipeline
drain, persist, then kill).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from actors.execution.actor import ExecutionActor
from actors.market_data.actor import MarketDataActor
from actors.risk.actor import RiskActor
from actors.signal.actor import SignalActor, signal_actor_name
from cluster.app.progress import StallWatch
from cluster.app.status_calls import StatusCalls
from cluster.app.summary import build_summary
from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.settings import Settings
from cluster.foundation.runtime import placement, ray_calls
from cluster.foundation.runtime.bus_curve import with_curve_keys
from cluster.foundation.runtime.grouping import (
    choose_groups,
    local_signal_slots,
    offered_signal_slots,
    partition,
    plan_groups,
    signal_slots_from,
)
from cluster.foundation.runtime.metrics import ACTOR_RESTARTS, PIPELINE_STALL_SECONDS, Metrics
from cluster.foundation.storage.factory import make_state_store, migrate
from cluster.foundation.storage.state_store import StateStore

log = logging.getLogger("trading.supervisor")

SINGLETONS = ("risk", "execution", "market_data")
RECONCILE_INTERVAL_S = 1.0
DESIRED_STATE_KEY = "supervisor"


@dataclass
class ReconcileResult:
    created: list[str] = field(default_factory=list)
    restarted: dict[str, int] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)


class Supervisor:
    def __init__(self, settings: Settings, address: str | None = None, state: StateStore | None = None) -> None:
        self.settings = settings
        self.state = state  # where the desired state is written before acting (else: made at start)
        self.address = address
        self.ns = settings.ray.namespace
        self.groups: dict[str, list[str]] = {}
        self.schedule: list[tuple[int, list[str]]] = []  # which groups answer from which batch
        self.plan_for(offered_signal_slots())
        self.handles: dict[str, Any] = {}
        self._status = StatusCalls({"risk": "snapshot"})
        self.info: ray_calls.ClusterInfo | None = None
        self.metrics = Metrics()
        self._restarts_seen: dict[str, int] = {}
        self._use_resources = False
        self.started_at = 0.0
        self.finished_at = 0.0
        self.generation = 0
        self._scale_lock = threading.Lock()
        self._takes_over: dict[str, int] = {}
        self.feed_wanted = False
        self._refresh_due = False
        self._md_restarted = False
        self.stall = StallWatch()

    def plan_for(self, signal_slots: int) -> None:
        """Split the universe into signal groups for the slots a cluster offers (an explicit
        signal.group_size wins) and say what was chosen."""
        universe = _universe(self.settings)
        choice = choose_groups(len(universe), self.settings.signal.group_size, signal_slots)
        log.info("signal groups: %s", choice.describe())
        self.groups = plan_groups(universe, choice.group_size)
        self.schedule = [(1, list(self.groups))]

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> ray_calls.ClusterInfo:
        local_resources = {
            placement.CORE_RESOURCE: 1.0,
            placement.SIGNALS_RESOURCE: float(max(local_signal_slots(), len(self.groups))),
            placement.TRAIN_RESOURCE: 1.0,
        }
        self.info = ray_calls.init_cluster(self.settings.ray, self.address, local_resources)
        if not self.info.started_here and not self.handles:
            # joined a running cluster: size the groups by the signal slots it really offers
            self.plan_for(signal_slots_from(ray_calls.cluster_resources()))
        self.settings = with_curve_keys(self.settings)  # kept when the CLI made them for the run
        if self.info.started_here and self.settings.bus.host is None:
            # one local node, started by this process: the bus stays on loopback
            bus = self.settings.bus.model_copy(update={"host": "127.0.0.1"})
            self.settings = self.settings.model_copy(update={"bus": bus})
        self.metrics = Metrics()  # now inside Ray: restarts are exported from this driver process
        self._use_resources = placement.CORE_RESOURCE in ray_calls.cluster_resources()
        migrate(self.settings)
        if self.state is None:
            self.state = make_state_store(self.settings)
        self._save_desired()
        for name in self.desired():  # idempotent: a start retried while nodes join keeps what it made
            handle = self.handles.get(name)
            if handle is None:
                self._create(name)
        self._wait_ready(timeout_s)
        return self.info

    def adopt(self, desired: dict[str, Any], timeout_s: float = 60.0) -> ray_calls.ClusterInfo:
        """A restarted supervisor: take the desired state from storage and the actors that still run
        by name; the reconcile loop re-creates whatever is missing."""
        self.info = ray_calls.init_cluster(self.settings.ray, self.address)
        self.settings = self.settings.model_copy(update={"bus": self.settings.bus.model_copy(
            update={"host": desired.get("bus_host")})})
        self.groups = {g: list(syms) for g, syms in desired["groups"].items()}
        self.schedule = [(int(start), list(groups)) for start, groups in desired.get("schedule", [])]
        self.generation = int(desired.get("generation", 0))
        self.feed_wanted = bool(desired.get("feed_wanted"))
        self.started_at = float(desired.get("started_at", 0.0))
        self._use_resources = placement.CORE_RESOURCE in ray_calls.cluster_resources()
        for name in self.desired():
            handle = ray_calls.get_actor(name, self.ns)
            if handle is not None:
                self.handles[name] = handle
        self._refresh_due = True
        log.warning("supervisor restarted: adopted %d of %d actors", len(self.handles), len(self.desired()))
        return self.info

    def _save_desired(self) -> None:
        if self.state is not None:
            self.state.save_state(DESIRED_STATE_KEY, {
                "groups": self.groups, "generation": self.generation, "feed_wanted": self.feed_wanted,
                "schedule": [[start, groups] for start, groups in self.schedule],
                "bus_host": self.settings.bus.host, "started_at": self.started_at})

    def desired(self) -> list[str]:
        """Creation order matters only for speed: binders first, the feed last."""
        return ["risk", "execution", *[signal_actor_name(g) for g in self.groups], "market_data"]

    def start_feed(self) -> None:
        self.started_at = time.time()
        self.feed_wanted = True
        self._save_desired()
        ray_calls.call(self.handles["market_data"], "start_feed")

    def _create(self, name: str) -> None:
        s = self.settings
        cpus = s.ray.actor_num_cpus
        cls: type
        args: tuple[Any, ...]
        if name in SINGLETONS:
            resources = placement.core_singleton_resources() if self._use_resources else None
            cls, args = {
                "risk": (RiskActor, (s, list(self.groups))),
                "execution": (ExecutionActor, (s,)),
                "market_data": (MarketDataActor, (s, len(self.groups) + 1)),  # signal groups and risk
            }[name]
        else:
            group = name.removeprefix("signal-")
            resources = placement.signal_actor_resources() if self._use_resources else {}
            resources = {**(resources or {}), **s.signal.group_resources.get(group, {})} or None
            cls, args = SignalActor, (s, group, self.groups[group], self._takes_over.get(group))
        self.handles[name] = ray_calls.start_actor(cls, name, self.ns, *args, num_cpus=cpus, resources=resources)
        self.metrics.declare(ACTOR_RESTARTS, actor=name)  # the series exists at 0 before any restart
        log.info("created actor %s", name)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for name in self.desired():
            ray_calls.call(self.handles[name], "ping", timeout_s=timeout_s)
        for name in ("risk", "execution"):
            while not ray_calls.call(self.handles[name], "ready", timeout_s=timeout_s):
                if time.monotonic() > deadline:
                    raise DependencyDown(f"{name} actor did not see its subscribers within {timeout_s:.0f}s")

    # ---- re-partitioning while trading --------------------------------------------------------

    def scale_groups(self, n_groups: int, timeout_s: float = 60.0) -> dict[str, Any]:
        """Re-partition the universe over n signal actors without stopping the pipeline.

        The feed pauses after batch L; the old groups answer up to L; new actors warm on the history
        up to L and answer from L+1; the risk actor switches group sets at L+1. Each batch is thus
        answered for each symbol by exactly one group, and the feed resumes."""
        with self._scale_lock:
            universe = [sym for g in self.groups.values() for sym in g]
            new = partition(universe, n_groups, self.generation + 1)
            md, risk = self.handles["market_data"], self.handles["risk"]
            last = int(ray_calls.call(md, "pause", timeout_s=timeout_s))
            try:
                old = dict(self.groups)
                self.generation += 1
                for group in new:
                    self._takes_over[group] = last
                self.groups = {**old, **new}  # both sets exist until the old ones are retired
                for group in new:
                    self._create(signal_actor_name(group))
                for group in new:
                    ray_calls.call(self.handles[signal_actor_name(group)], "ping", timeout_s=timeout_s)
                ray_calls.call(risk, "set_groups", list(new), last + 1, timeout_s=timeout_s)
                self.groups = new
                self.schedule.append((last + 1, list(new)))
                self._save_desired()
            finally:
                ray_calls.call(md, "resume", timeout_s=timeout_s)
            self._retire(old, last, timeout_s)
            log.info("re-partitioned %d symbols from %d to %d groups at batch %d", len(universe), len(old),
                     len(new), last + 1)
            return {"from_groups": old, "to_groups": new, "effective_batch": last + 1}

    def _retire(self, old: dict[str, list[str]], last: int, timeout_s: float) -> None:
        """Stop the old groups once the risk actor has decided every batch they answer."""
        risk = self.handles["risk"]
        deadline = time.monotonic() + timeout_s
        while int(ray_calls.call(risk, "awaiting_batch")) <= last and time.monotonic() < deadline:
            time.sleep(0.02)
        for group in old:
            handle = self.handles.pop(signal_actor_name(group), None)
            if handle is not None:
                _quiet(partial(ray_calls.call, handle, "close", timeout_s=5))
                ray_calls.kill(handle)

    # ---- reconcile loop -------------------------------------------------------------------------

    def reconcile_once(self) -> ReconcileResult:
        result = ReconcileResult()
        if not self._scale_lock.acquire(blocking=False):
            return result  # a re-partition is creating and retiring actors right now
        try:
            return self._reconcile(result)
        finally:
            self._scale_lock.release()

    def _reconcile(self, result: ReconcileResult) -> ReconcileResult:
        try:
            states = ray_calls.actor_states(self.ns, self.desired())
        except Exception as exc:  # the state API is best effort; never take the cluster down for it
            log.warning("actor state query failed: %s", exc)
            return result
        for name in self.desired():
            row = states.get(name)
            state = row["state"] if row else "MISSING"
            result.states[name] = state
            if row is not None:
                seen = self._restarts_seen.get(name, 0)
                if row["num_restarts"] > seen:
                    delta = row["num_restarts"] - seen
                    self.metrics.inc(ACTOR_RESTARTS, float(delta), actor=name)
                    result.restarted[name] = row["num_restarts"]
                    log.warning("actor %s was restarted by Ray (%d restarts)", name, row["num_restarts"])
                self._restarts_seen[name] = row["num_restarts"]
            if state in ("MISSING", "DEAD"):
                try:
                    self._create(name)
                    result.created.append(name)
                except Exception as exc:
                    log.error("could not re-create %s: %s", name, exc)
        if result.restarted or result.created:
            self._refresh_due = True
            if "market_data" in result.restarted or "market_data" in result.created:
                self._md_restarted = True
        if self._refresh_due:
            self._refresh_due = not self._refresh_peers()
        if self.feed_wanted and self._md_restarted:
            self._md_restarted = not self._restart_feed()
        return result

    def _refresh_peers(self, timeout_s: float = 5.0) -> bool:
        """Every actor looks its peers' endpoints up again (one moved or came back); True when all answered
        with every peer found."""
        refs = {n: ray_calls.submit(h, "refresh_peers") for n, h in list(self.handles.items())}
        deadline = time.monotonic() + timeout_s
        complete = True
        for name, ref in refs.items():
            try:
                found = ray_calls.wait(ref, max(0.1, deadline - time.monotonic()))
            except ray_calls.ActorCallError as exc:
                log.info("peer refresh of %s not done yet: %s", name, exc)
                complete = False
                continue
            if not all(found.values()):
                complete = False
        return complete

    def _restart_feed(self) -> bool:
        """The feed was wanted and its actor restarted: start it again (it resumes where it was)."""
        try:
            ray_calls.call(self.handles["market_data"], "start_feed", timeout_s=10)
        except ray_calls.ActorCallError as exc:
            log.info("restarted feed not ready to start yet: %s", exc)
            return False
        log.warning("restarted market-data actor told to resume its feed")
        return True

    def stats(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """One round of status calls (cluster/app/status_calls.py); an actor that does not answer is reported so."""
        return self._status.round(dict(self.handles), timeout_s)

    def run_until_done(
        self, timeout_s: float | None = None, on_tick: Callable[[dict[str, Any]], None] | None = None,
        tick_s: float = 0.5,
    ) -> dict[str, Any]:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last_reconcile = 0.0
        while True:
            stats = self.stats()
            self.watch_progress(stats)
            if on_tick:
                on_tick(stats)
            risk = stats.get("risk", {})
            if risk.get("done"):
                self.finished_at = time.time()
                return stats
            for name, st in stats.items():
                if isinstance(st, dict) and st.get("failure"):
                    raise DependencyDown(f"actor {name} failed: {st['failure']}")
            if time.monotonic() - last_reconcile > RECONCILE_INTERVAL_S:
                self.reconcile_once()
                last_reconcile = time.monotonic()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the pipeline did not finish within {timeout_s}s (risk at batch "
                                   f"{risk.get('next_batch')}, feed at {stats.get('market_data', {}).get('batch')})")
            time.sleep(tick_s)

    def watch_progress(self, stats: dict[str, Any]) -> float:
        """Seconds the pipeline has waited on one batch with data waiting (exported; a stall is logged)."""
        stalled = self.stall.observe_stats(stats)
        self.metrics.set(PIPELINE_STALL_SECONDS, stalled)
        return stalled

    def ledger(self) -> list[dict[str, Any]]:
        return ray_calls.call(self.handles["execution"], "ledger")

    def summary(self, stats: dict[str, Any]) -> dict[str, Any]:
        # Measured by the actors themselves: first batch published -> last batch settled.
        first = stats.get("market_data", {}).get("first_publish") or self.started_at
        done = stats.get("risk", {}).get("done_at") or self.finished_at or time.time()
        wall = done - first
        return build_summary(stats, self.ledger(), wall, self.groups, self.info)

    def shutdown(self, drain_s: float = 10.0) -> None:
        """Stop the feed, let the pipeline drain, persist, then stop every actor."""
        md = self.handles.get("market_data")
        if md is not None:
            _quiet(lambda: ray_calls.call(md, "stop", timeout_s=drain_s))
        deadline = time.monotonic() + drain_s
        risk = self.handles.get("risk")
        while risk is not None and time.monotonic() < deadline:
            snap = _quiet(lambda: ray_calls.call(risk, "snapshot", timeout_s=2))
            feed = _quiet(lambda: ray_calls.call(md, "stats", timeout_s=2)) if md is not None else None
            if not snap or not feed or snap.get("next_batch", 0) > feed.get("batch", 0):
                break
            time.sleep(0.1)
        for name in reversed(self.desired()):
            handle = self.handles.get(name)
            if handle is not None:
                _quiet(partial(ray_calls.call, handle, "close", timeout_s=drain_s))
                ray_calls.kill(handle)
        names = list(self.handles)
        self.handles.clear()
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and any(ray_calls.get_actor(n, self.ns) for n in names):
            time.sleep(0.05)  # names are free again before a new cluster may take them
        if self.info is not None and self.info.started_here:
            ray_calls.shutdown()


def _universe(settings: Settings) -> tuple[str, ...]:
    md = settings.market_data
    if md.source == "synthetic":
        from actors.market_data.synthetic import synthetic_symbol

        return tuple(synthetic_symbol(i) for i in range(md.synthetic_symbols))
    return settings.signal.universe


def _quiet(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:
        log.debug("ignored during shutdown: %s", exc)
        return None
