"""Real minute bars of the shipped data, one time-ordered frame per symbol, with the quote joined."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[3] / "data"
SYMBOLS = ("SPY", "IBM", "BAC", "AIG", "AAPL")


@cache
def _all_bars() -> dict[str, pd.DataFrame]:
    trades = pd.read_csv(DATA / "us_equity_minute_trade_bars.csv")
    quotes = pd.read_csv(DATA / "us_equity_minute_quote_bars.csv")
    quotes = quotes.rename(columns={"bid_close": "bid", "ask_close": "ask"})[["symbol", "timestamp", "bid", "ask"]]
    frames = {}
    for symbol, bars in trades.groupby("symbol", sort=False):
        merged = bars.merge(quotes[quotes.symbol == symbol].drop(columns="symbol"), on="timestamp", how="left")
        frames[str(symbol)] = merged.reset_index(drop=True)
    return frames


def real_bars(symbol: str) -> pd.DataFrame:
    """A copy, so a test may edit it freely."""
    return _all_bars()[symbol].copy()


@pytest.fixture(params=SYMBOLS)
def symbol_bars(request: pytest.FixtureRequest) -> pd.DataFrame:
    return real_bars(request.param)


@pytest.fixture
def bars_of():  # type: ignore[no-untyped-def]
    """real_bars as a fixture, for tests that pick their symbol."""
    return real_bars
