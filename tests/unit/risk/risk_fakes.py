"""Hand-written fakes and real-data helpers for the risk core tests."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from actors.risk.core import Approved, RiskCore
from cluster.settings import RiskSettings
from cluster.wire import OrderIntent, OrderUpdate, Signal

DATA = Path(__file__).resolve().parents[3] / "data"
NS = 1_000_000_000
# 2013-10-07 10:00 ET, a regular-session minute present in the real minute bars.
SESSION_START_NS = int(datetime.fromisoformat("2013-10-07T14:00:00+00:00").timestamp()) * NS


class FakeClock:
    """Settable clock in UTC ns, like a test clock in an event engine."""

    def __init__(self, now_ns: int = SESSION_START_NS) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> int:
        self.now_ns += int(seconds * NS)
        return self.now_ns


@lru_cache(maxsize=1)
def _minute_closes() -> dict[str, list[float]]:
    closes: dict[str, list[float]] = {}
    with (DATA / "us_equity_minute_trade_bars.csv").open() as fh:
        for row in csv.DictReader(fh):
            closes.setdefault(row["symbol"], []).append(float(row["close"]))
    return closes


@lru_cache(maxsize=1)
def _daily_closes() -> dict[str, list[float]]:
    closes: dict[str, list[float]] = {}
    with (DATA / "us_equity_daily_bars_1998-2021.csv").open() as fh:
        for row in csv.DictReader(fh):
            closes.setdefault(row["symbol"], []).append(float(row["close"]))
    return closes


def real_closes(symbol: str) -> list[float]:
    """Real 1-minute closes of a symbol (daily closes for symbols only in the daily file, e.g. QQQ)."""
    return _minute_closes().get(symbol) or _daily_closes()[symbol]


def seed_limits(**overrides: Any) -> RiskSettings:
    """The shipped risk limits (config/risk_limits.toml values), with overrides."""
    return RiskSettings(**overrides)


def make_signal(symbol: str, target: int, price: float, ts_ns: int, group: str = "g0", batch: int = 1) -> Signal:
    return Signal(
        symbol=symbol, ts_ns=ts_ns, group=group, batch=batch, target=target, strength=1.0, price=price,
        model_version="test", correlation_id=f"{symbol}@{ts_ns}",
    )


class FakeBroker:
    """Plays the broker: turns approved intents into OrderUpdates fed back to the core."""

    def __init__(self, core: RiskCore, clock: FakeClock) -> None:
        self.core = core
        self.clock = clock
        self.open: dict[str, OrderIntent] = {}
        self.filled: dict[str, Decimal] = {}

    def accept(self, intent: OrderIntent) -> None:
        self.open[intent.client_order_id] = intent
        self.filled[intent.client_order_id] = Decimal(0)

    def fill(self, coid: str, qty: Decimal, price: Decimal, commission: Decimal = Decimal(0)) -> None:
        intent = self.open[coid]
        done = self.filled[coid] + qty
        self.filled[coid] = done
        status = "filled" if done == intent.qty else "partially_filled"
        self.core.on_order_update(
            OrderUpdate(
                client_order_id=coid, broker_order_id=f"b-{coid}", symbol=intent.symbol, side=intent.side,
                status=status, qty=intent.qty, filled_qty=done, ts_ns=self.clock(), last_fill_qty=qty,
                last_fill_price=price, commission=commission, fill_id=f"{coid}:{done}",
            )
        )
        if status == "filled":
            del self.open[coid]

    def end(self, coid: str, status: str = "canceled") -> None:
        intent = self.open.pop(coid)
        self.core.on_order_update(
            OrderUpdate(
                client_order_id=coid, broker_order_id=f"b-{coid}", symbol=intent.symbol, side=intent.side,
                status=status, qty=intent.qty, filled_qty=self.filled[coid], ts_ns=self.clock(),  # type: ignore[arg-type]
            )
        )


def open_position(core: RiskCore, broker: FakeBroker, clock: FakeClock, symbol: str, price: float, target: int = 1) -> Approved:
    """Mark, signal and fully fill one entry at the marked price."""
    clock.advance(1)
    core.on_price(symbol, price, clock())
    decision = core.check(make_signal(symbol, target, price, clock()))
    assert isinstance(decision, Approved), decision
    broker.accept(decision.intent)
    broker.fill(decision.intent.client_order_id, decision.intent.qty, Decimal(repr(price)))
    return decision
