"""A hand-written ControlPlane (what the control API serves) fed with real minute bars.

Records every call and the audit count seen at that moment, so a test can check that the audit record
was written before the action ran; `fail_with[name]` makes a call raise.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data"
NS = 1_000_000_000
REGULAR_SESSION_OPEN = "2013-10-07T13:30:00Z"  # 09:30 ET
REGULAR_SESSION_CLOSE = "2013-10-07T20:00:00Z"  # 16:00 ET


@dataclass(frozen=True)
class RealBar:
    symbol: str
    timestamp: str
    close: Decimal

    @property
    def ts_ns(self) -> int:
        return int(datetime.fromisoformat(self.timestamp.replace("Z", "+00:00")).timestamp()) * NS


@lru_cache(maxsize=1)
def session_bars() -> dict[str, list[RealBar]]:
    """Regular-session minute bars of 2013-10-07 per symbol, from the repository's real data."""
    bars: dict[str, list[RealBar]] = {}
    with (DATA / "us_equity_minute_trade_bars.csv").open() as fh:
        for row in csv.DictReader(fh):
            if REGULAR_SESSION_OPEN <= row["timestamp"] < REGULAR_SESSION_CLOSE:
                bars.setdefault(row["symbol"], []).append(
                    RealBar(row["symbol"], row["timestamp"], Decimal(row["close"])))
    return bars


def real_positions() -> list[dict[str, Any]]:
    """SPY long 30 and BAC short 200, entered at the first session bar and marked at the last."""
    rows = []
    for symbol, qty in (("SPY", Decimal(30)), ("BAC", Decimal(-200))):
        first, last = session_bars()[symbol][0], session_bars()[symbol][-1]
        rows.append({"symbol": symbol, "quantity": qty, "entry_price": first.close,
                     "current_price": last.close, "unrealized_pnl": (last.close - first.close) * qty})
    return rows


def real_orders() -> list[dict[str, Any]]:
    ibm = session_bars()["IBM"]
    return [
        {"client_order_id": f"tc-IBM-{bar.ts_ns}", "symbol": "IBM", "side": side, "qty": Decimal(25),
         "limit_price": bar.close, "status": status, "submitted_at_ns": bar.ts_ns}
        for bar, side, status in ((ibm[0], "buy", "filled"), (ibm[60], "sell", "canceled"), (ibm[120], "buy", "new"))
    ]


class FakeControlPlane:
    """Records every call and the audit count seen at that moment; `fail_with[name]` makes a call raise."""

    def __init__(self, audit_seen: Callable[[], int] = lambda: 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.audit_count_at_call: list[int] = []
        self.fail_with: dict[str, BaseException] = {}
        self.health_status = "ok"
        self.breaker = "closed"
        self.group_count = 2
        self._audit_seen = audit_seen

    def _enter(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        self.audit_count_at_call.append(self._audit_seen())
        if name in self.fail_with:
            raise self.fail_with[name]

    def health(self) -> dict[str, Any]:
        self._enter("health")
        return {"status": self.health_status, "components": {"database": "ok", "broker": "ok"}}

    def status(self) -> dict[str, Any]:
        self._enter("status")
        pnl = sum((p["unrealized_pnl"] for p in real_positions()), Decimal(0))
        return {"events_per_s": 1234.5, "signals": 17, "orders": 3, "fills": 1,
                "pnl": {"realized": Decimal("0.00"), "unrealized": pnl},
                "breaker": {"state": self.breaker}, "database": {"status": "ok", "queue": 0}}

    def positions(self) -> list[dict[str, Any]]:
        self._enter("positions")
        return real_positions()

    def orders(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        self._enter("orders", status=status, limit=limit)
        rows = [o for o in real_orders() if status is None or o["status"] == status]
        return rows[:limit]

    def risk_events(self, limit: int = 100) -> list[dict[str, Any]]:
        self._enter("risk_events", limit=limit)
        bar = session_bars()["AIG"][10]
        return [{"event_type": "order_rejected", "severity": "warning", "occurred_at_ns": bar.ts_ns,
                 "message": f"AIG order at {bar.close} exceeds max_position_usd"}][:limit]

    def groups(self) -> list[dict[str, Any]]:
        self._enter("groups")
        universe = ["SPY", "IBM", "BAC", "AIG"]
        size = len(universe) // self.group_count
        return [{"group": f"g{i}", "symbols": universe[i * size:(i + 1) * size], "actor": f"signal-g{i}",
                 "state": "ALIVE", "node": "127.0.0.1"} for i in range(self.group_count)]

    def trip_breaker(self, by: str, reason: str) -> dict[str, Any]:
        self._enter("trip_breaker", by=by, reason=reason)
        self.breaker = "open"
        return {"breaker": self.breaker, "changed_by": by}

    def reset_breaker(self, by: str, reason: str) -> dict[str, Any]:
        self._enter("reset_breaker", by=by, reason=reason)
        self.breaker = "reducing"
        return {"breaker": self.breaker, "changed_by": by, "reduced_size": True}

    def kill(self, by: str, reason: str, flatten: bool) -> dict[str, Any]:
        self._enter("kill", by=by, reason=reason, flatten=flatten)
        return {"killed": True, "flattened": [p["symbol"] for p in real_positions()] if flatten else []}

    def scale_groups(self, groups: int, by: str, reason: str) -> dict[str, Any]:
        self._enter("scale_groups", groups=groups, by=by, reason=reason)
        previous, self.group_count = self.group_count, groups
        return {"previous": previous, "desired": groups}

    def models(self) -> list[dict[str, Any]]:
        self._enter("models")
        return [{"version": "xgb-20131004", "serving": True}, {"version": "xgb-20131003", "serving": False}]

    def promote_model(self, version: str, by: str, reason: str) -> dict[str, Any]:
        self._enter("promote_model", version=version, by=by, reason=reason)
        return {"serving": version}

    def rollback_model(self, by: str, reason: str) -> dict[str, Any]:
        self._enter("rollback_model", by=by, reason=reason)
        return {"serving": "xgb-20131003"}
