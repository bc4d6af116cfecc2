"""Market-data REST through alpaca-py's StockHistoricalDataClient: aggregated timeframes equal an
independent pandas aggregation of the CSV minute bars; latest, snapshots, quotes and trades."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockQuotesRequest,
    StockSnapshotRequest,
    StockTradesRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from alpaca_sim.data import load_timeline
from tests.alpaca.conftest import DATA, QUOTE_BARS, TRADE_BARS, RunningSim, start_sim

DAY_START, DAY_END = datetime(2013, 10, 7, tzinfo=UTC), datetime(2013, 10, 7, 23, 59, tzinfo=UTC)
TICKS = DATA / "us_equity_trade_ticks_IBM_2013-10-07.csv"


def data_client(sim: RunningSim) -> StockHistoricalDataClient:
    return StockHistoricalDataClient(sim.config.key_id, sim.config.secret_key, url_override=sim.url)


@pytest.fixture
def day_over(sim: RunningSim) -> RunningSim:
    sim.admin("/admin/step", {"until": "2013-10-08T04:00:00Z"})  # all of 2013-10-07 is published
    return sim


def _csv_minutes(symbol: str) -> pd.DataFrame:
    frame = pd.read_csv(TRADE_BARS)
    frame = frame[frame["symbol"] == symbol].copy()
    frame["t"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.set_index("t").sort_index()


def _expected(symbol: str, rule: str) -> list[tuple[Any, ...]]:
    minutes = _csv_minutes(symbol)
    if rule == "1D":  # Alpaca's daily bar: the New York day, stamped at New York midnight
        keys = minutes.index.tz_convert("America/New_York").normalize().tz_convert("UTC")
        grouped = minutes.groupby(keys)
    else:
        grouped = minutes.groupby(minutes.index.floor(rule))
    rolled = grouped.agg(o=("open", "first"), h=("high", "max"), l=("low", "min"), c=("close", "last"),
                         v=("volume", "sum"))
    rolled = rolled[(rolled.index >= DAY_START) & (rolled.index <= DAY_END)]
    return [(t.to_pydatetime(), r.o, r.h, r.l, r.c, r.v) for t, r in rolled.iterrows()]


@pytest.mark.parametrize(("timeframe", "rule"), [
    (TimeFrame(5, TimeFrameUnit.Minute), "5min"), (TimeFrame(15, TimeFrameUnit.Minute), "15min"),
    (TimeFrame(1, TimeFrameUnit.Hour), "1h"), (TimeFrame(1, TimeFrameUnit.Day), "1D"),
])
def test_bars_when_timeframe_is_aggregated_then_equal_to_an_independent_aggregation(
    day_over: RunningSim, timeframe: TimeFrame, rule: str
) -> None:
    got = data_client(day_over).get_stock_bars(StockBarsRequest(
        symbol_or_symbols="SPY", timeframe=timeframe, start=DAY_START, end=DAY_END))
    bars = got.data["SPY"]
    assert [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in bars] == _expected("SPY", rule)
    assert all(b.trade_count is None and b.vwap is None for b in bars)  # the source has neither


def test_bars_when_week_timeframe_then_422_naming_what_is_served(day_over: RunningSim) -> None:
    from alpaca.common.exceptions import APIError

    with pytest.raises(APIError) as info:
        data_client(day_over).get_stock_bars(StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Week))
    assert info.value.code == 40010001 and "not supported" in info.value.message


def test_latest_quote_and_bar_when_asked_then_the_last_published_rows(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T14:00:00Z"})
    client = data_client(sim)
    quote = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["SPY", "IBM"]))
    bar = client.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="SPY"))
    quotes = pd.read_csv(QUOTE_BARS)
    row = quotes[(quotes["symbol"] == "SPY") & (quotes["timestamp"] == "2013-10-07T13:59:00Z")].iloc[0]
    assert (quote["SPY"].bid_price, quote["SPY"].ask_price) == (row["bid_close"], row["ask_close"])
    assert quote["SPY"].timestamp == datetime(2013, 10, 7, 13, 59, tzinfo=UTC) and "IBM" in quote
    minutes = _csv_minutes("SPY")
    last = minutes[minutes.index <= "2013-10-07T13:59:00Z"].iloc[-1]
    assert (bar["SPY"].timestamp, bar["SPY"].close) == (last.name.to_pydatetime(), last["close"])


def test_snapshot_when_asked_then_latest_quote_minute_and_daily_bars(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T14:00:00Z"})
    snap = data_client(sim).get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols="SPY"))["SPY"]
    assert snap.latest_quote is not None and snap.minute_bar is not None and snap.daily_bar is not None
    assert snap.latest_trade is None  # no trade ticks for SPY in the data
    assert snap.minute_bar.timestamp == datetime(2013, 10, 7, 13, 59, tzinfo=UTC)
    assert snap.daily_bar.timestamp == datetime(2013, 10, 7, 4, tzinfo=UTC)
    assert snap.previous_daily_bar is not None and snap.previous_daily_bar.timestamp == datetime(
        2013, 10, 4, 4, tzinfo=UTC)


def test_quotes_when_asked_for_a_range_then_every_published_quote_bar(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T14:00:00Z"})
    got = data_client(sim).get_stock_quotes(StockQuotesRequest(
        symbol_or_symbols="SPY", start=datetime(2013, 10, 7, 13, 50, tzinfo=UTC),
        end=datetime(2013, 10, 7, 14, 30, tzinfo=UTC)))
    quotes = pd.read_csv(QUOTE_BARS)
    rows = quotes[(quotes["symbol"] == "SPY") & (quotes["timestamp"] >= "2013-10-07T13:50:00Z")
                  & (quotes["timestamp"] <= "2013-10-07T13:59:00Z")]
    assert [q.bid_price for q in got.data["SPY"]] == list(rows["bid_close"])


@pytest.fixture
def tick_sim() -> Iterator[RunningSim]:
    running, stop = start_sim(events=load_timeline([TICKS]), start="2013-10-07T13:30:00Z")
    yield running
    stop()


def test_trades_when_ticks_are_loaded_then_every_print_in_range(tick_sim: RunningSim) -> None:
    tick_sim.admin("/admin/step", {"until": "2013-10-07T13:32:00Z"})
    client = data_client(tick_sim)
    got = client.get_stock_trades(StockTradesRequest(
        symbol_or_symbols="IBM", start=datetime(2013, 10, 7, 13, 30, tzinfo=UTC),
        end=datetime(2013, 10, 7, 13, 31, tzinfo=UTC)))
    ticks = pd.read_csv(TICKS)
    ticks["t"] = pd.to_datetime(ticks["timestamp"], utc=True, format="ISO8601")
    rows = ticks[(ticks["t"] >= "2013-10-07T13:30:00Z") & (ticks["t"] <= "2013-10-07T13:31:00Z")]
    assert [(t.price, t.size) for t in got.data["IBM"]] == list(zip(rows["price"], rows["size"], strict=True))
    latest = client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="IBM"))
    assert latest["IBM"].timestamp <= datetime(2013, 10, 7, 13, 32, tzinfo=UTC)
