"""Real 2013 minute bars and quote bars of SPY/IBM/BAC/AIG as wire messages, in time order."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from cluster.foundation.domain.settings import SignalSettings
from cluster.foundation.domain.wire import Bar, Quote

DATA = Path(__file__).resolve().parents[3] / "data"
UNIVERSE = ("SPY", "IBM", "BAC", "AIG")


def _ts_ns(column: pd.Series) -> list[int]:
    return pd.to_datetime(column, utc=True).dt.as_unit("ns").astype("int64").tolist()


@cache
def _events() -> tuple[Bar | Quote, ...]:
    trades = pd.read_csv(DATA / "us_equity_minute_trade_bars.csv")
    trades = trades[trades.symbol.isin(UNIVERSE) & (trades.timestamp < "2014")]
    quotes = pd.read_csv(DATA / "us_equity_minute_quote_bars.csv")
    quotes = quotes[quotes.symbol.isin(UNIVERSE) & (quotes.timestamp < "2014")]
    keyed: list[tuple[int, int, str, Bar | Quote]] = []
    for row, ts in zip(trades.itertuples(index=False), _ts_ns(trades.timestamp), strict=True):
        bar = Bar(symbol=row.symbol, ts_ns=ts, open=row.open, high=row.high, low=row.low, close=row.close,
                  volume=float(row.volume))
        keyed.append((ts, 0, row.symbol, bar))
    for row, ts in zip(quotes.itertuples(index=False), _ts_ns(quotes.timestamp), strict=True):
        quote = Quote(symbol=row.symbol, ts_ns=ts, bid=row.bid_close, bid_size=float(row.bid_size),
                      ask=row.ask_close, ask_size=float(row.ask_size))
        keyed.append((ts, 1, row.symbol, quote))  # a minute's quote bar closes after its trade bar opens
    keyed.sort(key=lambda item: item[:3])
    return tuple(item[3] for item in keyed)


@pytest.fixture
def events() -> list[Bar | Quote]:
    return list(_events())


@pytest.fixture
def signal_settings() -> SignalSettings:
    return SignalSettings()
