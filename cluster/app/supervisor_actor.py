"""The supervisor as a detached, restartable Ray actor: the cluster trades on after the CLI exits.

`trading-cluster run --detach` creates it (named `supervisor`, namespace `trading`) and returns. It
starts the trading actors, the feed, the bundled simulator when the settings ask for it, and the
control API, then runs the reconcile loop. Its desired state (symbol groups, generation, whether
the feed runs) is written to the database before it acts, so a supervisor that Ray restarts adopts
the actors that still run and re-creates the rest. `status` and `stop` from any process find it by
name.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any

from cluster.app.supervisor import DESIRED_STATE_KEY, RECONCILE_INTERVAL_S, Supervisor
from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.settings import Settings
from cluster.foundation.runtime import ray_calls
from cluster.foundation.runtime.logs import configure_logging
from cluster.foundation.storage.factory import make_state_store

SUPERVISOR_NAME = "supervisor"
log = logging.getLogger("trading.supervisor")


class SupervisorActor:
    def __init__(self, settings: Settings) -> None:
        configure_logging(settings.logging)
        self.settings = settings
        self.restarted = ray_calls.was_reconstructed()
        self.phase = "starting"
        self.error: str | None = None
        self.api_url = ""
        self.sim_url = ""
        self.summary: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._state = make_state_store(settings)
        self._sup: Supervisor | None = None
        self._sim: Any = None
        self._api: Any = None
        self._end_of_data: Any = None
        self._thread = threading.Thread(target=self._run, name="supervisor-loop", daemon=True)
        self._thread.start()

    # ---- control plane -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        sup = self._sup
        stats = sup.stats() if sup is not None and self.phase in ("running", "done") else {}
        feed = stats.get("market_data", {})
        risk = stats.get("risk", {})
        return {
            "phase": self.phase, "error": self.error, "restarted": self.restarted, "node": ray_calls.node_ip(),
            "control_api": self.api_url, "simulator": self.sim_url,
            "groups": sup.groups if sup is not None else {},
            "feed": {k: feed.get(k) for k in ("state", "batch", "events", "bars")},
            "risk": {k: risk.get(k) for k in ("next_batch", "orders_sent", "fills", "open_positions", "breaker",
                                              "waiting_for", "done")},
            "actors": {n: ("unavailable" if isinstance(s, dict) and "unavailable" in s else s.get("phase", "ok"))
                       for n, s in stats.items() if isinstance(s, dict)},
        }

    def stop(self, drain_s: float = 10.0) -> dict[str, Any]:
        """Drain and stop every trading actor; returns the run's summary."""
        self._stop.set()
        self._thread.join(drain_s + 30)
        sup = self._sup
        if sup is not None and self.summary is None and sup.handles:
            try:
                self.summary = sup.summary(sup.stats())
            except Exception as exc:
                log.warning("no summary at stop: %s", exc)
        if sup is not None:
            sup.shutdown(drain_s)
        self._close_services()
        self._state.save_state(DESIRED_STATE_KEY, {"stopped": True})
        self.phase = "stopped"
        return self.summary or {}

    # ---- loop ----------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            settings = self._start_simulator(self.settings)
            desired = self._state.load_state(DESIRED_STATE_KEY) if self.restarted else None
            self._sup = sup = Supervisor(settings, state=self._state)
            if desired and desired.get("groups") and not desired.get("stopped"):
                sup.adopt(desired)
            else:
                self._start_until_placed(sup)
                sup.start_feed()
            self._start_api(sup, settings)
            self.phase = "running"
            while not self._stop.is_set():
                stats = sup.stats()
                if self._end_of_data is not None:
                    self._end_of_data(stats)
                if stats.get("risk", {}).get("done") and self.phase == "running":
                    self.phase = "done"
                    self.summary = sup.summary(stats)
                    log.warning("the run reached the end of its data; the cluster stays up until stop")
                sup.reconcile_once()
                self._stop.wait(RECONCILE_INTERVAL_S)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.phase = "failed"
            log.error("supervisor failed: %s\n%s", self.error, traceback.format_exc())

    def _start_until_placed(self, sup: Supervisor) -> None:
        """Start the trading actors; while the nodes they need have not joined yet, keep waiting (a VM
        cluster starts the driver on the head before its workers are up)."""
        while True:
            try:
                sup.start()
                self.error = None
                return
            except (DependencyDown, ray_calls.ActorCallError) as exc:
                if self._stop.is_set():
                    raise
                self.phase = "waiting_for_nodes"
                self.error = str(exc)
                log.warning("trading actors not placed yet (%s); trying again", exc)
                self._stop.wait(5.0)

    def _start_simulator(self, settings: Settings) -> Settings:
        from cluster.app.runner import EndOfData, SimulatorProcess, wants_simulator

        if settings.market_data.source != "alpaca" or not wants_simulator(settings):
            return settings
        self._sim = sim = SimulatorProcess(settings, host=ray_calls.node_ip())
        self.sim_url = sim.url
        configured = sim.configure(settings)

        def finish() -> None:
            if self._sup is not None:
                ray_calls.call(self._sup.handles["market_data"], "finish")

        self._end_of_data = EndOfData(lambda: int(sim.state()["remaining"]), finish, clock=time.monotonic)
        return configured

    def _start_api(self, sup: Supervisor, settings: Settings) -> None:
        from cluster.app.api import ApiServer
        from cluster.app.api_token import with_token
        from cluster.app.control_plane import SupervisorControlPlane
        from cluster.foundation.storage.factory import make_repository

        repo = make_repository(settings, "control")
        control = with_token(settings.control_api, settings.resolve(settings.state_dir))
        self._api = ApiServer(SupervisorControlPlane(sup, settings), control, repo.record_audit)
        try:
            self._api.start()
            self.api_url = self._api.url
        except Exception as exc:  # trading goes on without the API; status says why
            self._api = None
            self.api_url = f"unavailable: {exc}"
            log.error("control API not started: %s", exc)

    def _close_services(self) -> None:
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._sim is not None:
            self._sim.stop()
            self._sim = None
