"""The end-of-run summary: what the pipeline did, in numbers a script can compare."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any


def ledger_digest(ledger: list[dict[str, Any]]) -> str:
    """sha256 over every order update (ids, statuses, quantities, prices): equal digests = equal runs."""
    h = hashlib.sha256()
    for row in ledger:
        h.update(json.dumps(row, sort_keys=True, default=str).encode())
    return h.hexdigest()


def group_plan(groups: dict[str, list[str]]) -> dict[str, int]:
    """How the universe was spread over signal groups (what the supervisor chose, in numbers)."""
    sizes = [len(symbols) for symbols in groups.values()]
    return {"groups": len(sizes), "symbols": sum(sizes), "largest_group": max(sizes, default=0)}


def build_summary(
    stats: dict[str, Any], ledger: list[dict[str, Any]], wall_s: float, groups: dict[str, list[str]], info: Any,
    runner: str = "ray",
) -> dict[str, Any]:
    """The same keys whichever runner replayed: "ray" (the cluster) or "in_process" (cluster/app/backtest.py)."""
    risk = stats.get("risk", {})
    feed = stats.get("market_data", {})
    pnl = risk.get("pnl", {})
    bars = int(feed.get("bars", 0))
    events = int(feed.get("events", 0))
    fills = [r for r in ledger if Decimal(str(r.get("last_fill_qty", "0"))) > 0]
    statuses: dict[str, int] = {}
    for r in ledger:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    gaps = sum(int(s.get("subscriber", {}).get("gaps", 0)) for n, s in stats.items() if n.startswith("signal-"))
    for sub in ("signals", "market_data", "reports"):
        gaps += int(risk.get("bus", {}).get(sub, {}).get("gaps", 0))
    return {
        "bars": bars,
        "events": events,
        "batches": int(feed.get("batch", 0)),
        "wall_seconds": round(wall_s, 4),
        "bars_per_s": round(bars / wall_s, 1) if wall_s > 0 else None,
        "events_per_s": round(events / wall_s, 1) if wall_s > 0 else None,
        "signals": int(risk.get("signals_seen", 0)),
        "orders": int(risk.get("orders_sent", 0)),
        "rejections": risk.get("rejections", {}),
        "fills": len(fills),
        "order_statuses": statuses,
        "realized_pnl": pnl.get("realized_pnl", "0"),
        "unrealized_pnl": pnl.get("unrealized_pnl", "0"),
        "total_pnl": pnl.get("total_pnl", "0"),
        "equity": risk.get("equity"),
        "cash": risk.get("cash"),
        "exposure": risk.get("exposure"),
        "open_positions": risk.get("open_positions"),
        "positions": [
            {k: p[k] for k in ("symbol", "quantity", "entry_price", "current_price", "unrealized_pnl", "realized_pnl")}
            for p in risk.get("positions", []) if Decimal(str(p.get("quantity", "0"))) != 0
        ],
        "breaker": (risk.get("breaker") or {}).get("state"),
        "sequence_gaps": gaps,
        "data_errors": int(feed.get("data_errors", 0)),
        "groups": groups,
        "group_plan": group_plan(groups),
        "runner": runner,
        "restarts": {n: True for n, s in stats.items() if isinstance(s, dict) and s.get("restarted")},
        # CPU seconds each process used while running (every thread; the feed's includes reading its files)
        "cpu_s": {n: s["cpu_s"] for n, s in stats.items() if isinstance(s, dict) and s.get("cpu_s") is not None},
        "ledger_digest": ledger_digest(ledger),
        "dashboard_url": getattr(info, "dashboard_url", ""),
    }
