"""Hand-written fakes and real-data helpers for the risk core tests."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from actors.risk.core import Approved, RiskCore
from cluster.foundation.domain.settings import RiskSettings
from cluster.foundation.domain.wire import Signal
from tests.kit.broker import FakeBroker  # noqa: F401 - the risk tests import it from here
from tests.kit.clock import FakeClock as KitClock

DATA = Path(__file__).resolve().parents[3] / "data"
NS = 1_000_000_000
# 2013-10-07 10:00 ET, a regular-session minute present in the real minute bars.
SESSION_START_NS = int(datetime.fromisoformat("2013-10-07T14:00:00+00:00").timestamp()) * NS


class FakeClock(KitClock):
    """Settable clock in UTC ns starting at the session open of the shipped data."""

    def __init__(self, now_ns: int = SESSION_START_NS) -> None:
        super().__init__(now_ns)


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


def open_position(core: RiskCore, broker: FakeBroker, clock: FakeClock, symbol: str, price: float, target: int = 1) -> Approved:
    """Mark, signal and fully fill one entry at the marked price."""
    clock.advance(1)
    core.on_price(symbol, price, clock())
    decision = core.check(make_signal(symbol, target, price, clock()))
    assert isinstance(decision, Approved), decision
    broker.accept(decision.intent)
    broker.fill(decision.intent.client_order_id, decision.intent.qty, Decimal(repr(price)))
    return decision
