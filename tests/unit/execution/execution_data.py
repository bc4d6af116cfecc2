"""Real shipped market data for the execution tests, read with the csv module (no project loader).

A uniquely named module (not conftest) so `from execution_data import ...` cannot pick up another
test folder's conftest.

Trade bars become Bar as they are (ts = start of the minute). Quote bars become one Quote each: the
top of book at the end of the minute (bid_close/ask_close with the sizes at the close), stamped at
the end of the minute, so every field of the Quote describes the same moment.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from cluster.foundation.domain.wire import Bar, OrderIntent, OrderType, Quote, Side, TimeInForce

DATA_DIR = Path(__file__).resolve().parents[3] / "data"
MINUTE_NS = 60 * 1_000_000_000


def iso_to_ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000_000


@cache
def _trade_bars() -> tuple[Bar, ...]:
    with open(DATA_DIR / "us_equity_minute_trade_bars.csv", newline="") as handle:
        return tuple(
            Bar(
                symbol=row["symbol"], ts_ns=iso_to_ns(row["timestamp"]), open=float(row["open"]),
                high=float(row["high"]), low=float(row["low"]), close=float(row["close"]),
                volume=float(row["volume"]),
            )
            for row in csv.DictReader(handle)
        )


@cache
def _quotes() -> tuple[Quote, ...]:
    with open(DATA_DIR / "us_equity_minute_quote_bars.csv", newline="") as handle:
        return tuple(
            Quote(
                symbol=row["symbol"], ts_ns=iso_to_ns(row["timestamp"]) + MINUTE_NS,
                bid=float(row["bid_close"]), bid_size=float(row["bid_size"]),
                ask=float(row["ask_close"]), ask_size=float(row["ask_size"]),
            )
            for row in csv.DictReader(handle)
        )


def _window[T: (Bar, Quote)](rows: tuple[T, ...], symbol: str, first_iso: str, last_iso: str) -> list[T]:
    first, last = iso_to_ns(first_iso), iso_to_ns(last_iso)
    return [row for row in rows if row.symbol == symbol and first <= row.ts_ns <= last]


def trade_bars(symbol: str, first_iso: str, last_iso: str) -> list[Bar]:
    """The shipped minute bars of one symbol with first_iso <= start <= last_iso, in file order."""
    return _window(_trade_bars(), symbol, first_iso, last_iso)


def quotes(symbol: str, first_iso: str, last_iso: str) -> list[Quote]:
    """End-of-minute quotes from the shipped quote bars, first_iso <= ts <= last_iso."""
    return _window(_quotes(), symbol, first_iso, last_iso)


def make_intent(
    client_order_id: str,
    symbol: str,
    side: Side,
    qty: str | int,
    ts_ns: int,
    order_type: OrderType = "market",
    time_in_force: TimeInForce = "gtc",
    limit_price: str | None = None,
    stop_price: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id, symbol=symbol, side=side, qty=Decimal(qty), order_type=order_type,
        time_in_force=time_in_force, ts_ns=ts_ns, batch=1, correlation_id=f"{symbol}@{ts_ns}",
        limit_price=None if limit_price is None else Decimal(limit_price),
        stop_price=None if stop_price is None else Decimal(stop_price),
    )
