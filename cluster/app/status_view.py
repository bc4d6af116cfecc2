"""The live status view of `trading-cluster run` and the final summary table (rich)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

_console = Console(stderr=True)


class StatusView:
    """Events/s, signals, orders, fills, positions, P&L and breaker state, refreshed per tick."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and _console.is_terminal
        self._live: Live | None = None
        self._last: tuple[float, int] | None = None
        self.ticks = 0

    def __enter__(self) -> StatusView:
        if self.enabled:
            self._live = Live(Table(), console=_console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, stats: dict[str, Any]) -> None:
        self.ticks += 1
        feed = stats.get("market_data", {})
        events = int(feed.get("events", 0))
        now = time.monotonic()
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (events - self._last[1]) / (now - self._last[0])
        self._last = (now, events)
        if self._live is not None:
            self._live.update(render(stats, rate))
        elif self.ticks % 10 == 0:
            risk = stats.get("risk", {})
            _console.print(f"batch {feed.get('batch')} events {events} ({rate:,.0f}/s) orders "
                           f"{risk.get('orders_sent')} fills {risk.get('fills')} breaker "
                           f"{(risk.get('breaker') or {}).get('state')}")


def render(stats: dict[str, Any], events_per_s: float) -> Table:
    feed = stats.get("market_data", {})
    risk = stats.get("risk", {})
    pnl = risk.get("pnl", {})
    t = Table(title="trading cluster", show_header=True, header_style="bold")
    t.add_column("what")
    t.add_column("value", justify="right")
    signals = sum(int(s.get("signals", 0)) for n, s in stats.items() if n.startswith("signal-"))
    rows = [
        ("feed", f"{feed.get('state')} batch {feed.get('batch')} (settled {feed.get('settled')})"),
        ("events", f"{feed.get('events', 0):,} ({events_per_s:,.0f}/s)"),
        ("signals", f"{signals:,}"),
        ("orders / fills", f"{risk.get('orders_sent', 0):,} / {risk.get('fills', 0):,}"),
        ("rejections", ", ".join(f"{k}={v}" for k, v in sorted((risk.get('rejections') or {}).items())) or "-"),
        ("open positions", str(risk.get("open_positions", 0))),
        ("exposure", f"${risk.get('exposure', '0')}"),
        ("P&L today", f"${pnl.get('total_pnl', '0')} (realized ${pnl.get('realized_pnl', '0')})"),
        ("breaker", str((risk.get("breaker") or {}).get("state"))),
    ]
    for name, st in sorted(stats.items()):
        if isinstance(st, dict) and "unavailable" in st:
            rows.append((name, f"[red]{st['unavailable']}[/red]"))
    for k, v in rows:
        t.add_row(k, v)
    return t


def print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    t = Table(title="run summary", header_style="bold")
    t.add_column("what")
    t.add_column("value", justify="right")
    for key in ("bars", "events", "batches", "wall_seconds", "bars_per_s", "signals", "orders", "fills",
                "realized_pnl", "unrealized_pnl", "total_pnl", "equity", "exposure", "open_positions", "breaker",
                "sequence_gaps", "data_errors", "ledger_digest"):
        t.add_row(key, str(summary.get(key)))
    t.add_row("rejections", ", ".join(f"{k}={v}" for k, v in sorted(summary.get("rejections", {}).items())) or "-")
    console.print(t)
    if summary.get("positions"):
        p = Table(title="open positions", header_style="bold")
        for col in ("symbol", "quantity", "entry_price", "current_price", "unrealized_pnl"):
            p.add_column(col, justify="right")
        for row in summary["positions"]:
            p.add_row(*(str(row[c]) for c in ("symbol", "quantity", "entry_price", "current_price", "unrealized_pnl")))
        console.print(p)
    if summary.get("dashboard_url"):
        console.print(f"Ray dashboard was at {summary['dashboard_url']}")
