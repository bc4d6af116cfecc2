"""The ControlPlane the control API serves, backed by a running Supervisor and its actors.

Reads go to the actors (risk snapshot, execution orders, risk events); actions go to the risk actor
first (the authority on the breaker) and then to execution (cancel, liquidate). Every call is a
control-plane Ray call, never on the data path.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from cluster.app.supervisor import Supervisor
from cluster.foundation.domain.errors import BadInput, ConfigError, DependencyDown
from cluster.foundation.domain.settings import Settings
from cluster.foundation.runtime import ray_calls


class SupervisorControlPlane:
    def __init__(self, supervisor: Supervisor, settings: Settings) -> None:
        self.sup = supervisor
        self.settings = settings
        self._kill_lock = threading.Lock()

    def _actor(self, name: str) -> Any:
        handle = self.sup.handles.get(name)
        if handle is None:
            raise DependencyDown(f"the {name} actor is not running")
        return handle

    def _call(self, name: str, method: str, *args: Any, timeout_s: float = 10.0) -> Any:
        try:
            return ray_calls.call(self._actor(name), method, *args, timeout_s=timeout_s)
        except ray_calls.ActorCallError as exc:
            if exc.outcome == ray_calls.CallOutcome.APP_ERROR:
                raise ConfigError(f"{name}.{method} refused: {exc}") from exc
            raise DependencyDown(f"{name}.{method}: {exc}") from exc

    # ---- reads ----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        states = self.sup.reconcile_once().states
        components = {name: state.lower() for name, state in states.items()}
        down = [n for n, st in states.items() if st not in ("ALIVE", "RESTARTING")]
        status = "down" if "risk" in down or "execution" in down else "degraded" if down else "ok"
        return {"status": status, "components": components}

    def status(self) -> dict[str, Any]:
        stats = self.sup.stats()
        risk = stats.get("risk", {})
        feed = stats.get("market_data", {})
        return {
            "feed": {"state": feed.get("state"), "batch": feed.get("batch"), "events": feed.get("events")},
            "risk": {k: risk.get(k) for k in ("next_batch", "orders_sent", "fills", "open_positions", "exposure",
                                              "equity", "cash", "pnl", "breaker", "rejections", "waiting_for")},
            "groups": self.sup.groups,
            "generation": self.sup.generation,
            "stall_seconds": round(self.sup.watch_progress(stats), 1),
            "actors": {n: ("unavailable" if isinstance(s, dict) and "unavailable" in s else "ok")
                       for n, s in stats.items()},
        }

    def positions(self) -> list[dict[str, Any]]:
        snap = self._call("risk", "snapshot")
        return [p for p in snap.get("positions", []) if str(p.get("quantity", "0")) not in ("0", "0.0")]

    def orders(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self._call("execution", "orders", status, limit)

    def risk_events(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._call("risk", "recent_events", limit)

    def groups(self) -> list[dict[str, Any]]:
        names = [f"signal-{g}" for g in self.sup.groups]
        states = ray_calls.actor_states(self.sup.ns, names)
        return [
            {"group": g, "symbols": syms, "actor": f"signal-{g}",
             "state": (states.get(f"signal-{g}") or {}).get("state", "MISSING"),
             "node": (states.get(f"signal-{g}") or {}).get("node_id")}
            for g, syms in self.sup.groups.items()
        ]

    # ---- actions --------------------------------------------------------------------------------

    def trip_breaker(self, by: str, reason: str) -> dict[str, Any]:
        moved = self._call("risk", "trip", by, reason)
        moved["canceled_orders"] = self._call("execution", "cancel_all", timeout_s=30)
        return moved

    def reset_breaker(self, by: str, reason: str) -> dict[str, Any]:
        return self._call("risk", "reset", by, reason)

    def kill(self, by: str, reason: str, flatten: bool) -> dict[str, Any]:
        """Halt, cancel every open order, optionally flatten; calling it again changes nothing more."""
        with self._kill_lock:
            intents = self._call("risk", "kill", by, reason, flatten)
            canceled = self._call("execution", "cancel_all", timeout_s=30)
            sent = self._call("execution", "submit_now", intents, timeout_s=30) if intents else []
            return {"breaker": "open", "canceled_orders": canceled, "flatten_orders": len(intents),
                    "updates": sent, "at_ns": time.time_ns()}

    def scale_groups(self, groups: int, by: str, reason: str) -> dict[str, Any]:
        universe = sum(len(s) for s in self.sup.groups.values())
        if not 1 <= groups <= universe:
            raise BadInput(f"groups must be between 1 and {universe} (the universe size), got {groups}")
        result = self.sup.scale_groups(groups)
        return {**result, "by": by, "reason": reason}

    # ---- models ---------------------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        from cluster.app.models_control import list_models

        return list_models(self.settings)

    def promote_model(self, version: str, by: str, reason: str) -> dict[str, Any]:
        from cluster.app.models_control import promote

        return promote(self.settings, version, by, reason)

    def rollback_model(self, by: str, reason: str) -> dict[str, Any]:
        from cluster.app.models_control import rollback

        return rollback(self.settings, by, reason)
