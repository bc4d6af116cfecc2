"""AlpacaFeed against the simulator over loopback: JSON and msgpack parse into wire messages that
match the CSV, and a websocket drop mid-replay is reconnected, re-subscribed and backfilled so the
consumer sees every bar exactly once."""

from __future__ import annotations

import pytest

from actors.market_data.alpaca_feed import AlpacaFeed
from actors.market_data.alpaca_feed_parse import FeedItem
from cluster.foundation.domain.wire import Bar, Quote
from tests.alpaca.conftest import QUOTE_BARS, TRADE_BARS, RunningSim
from tests.alpaca.feed_support import EventSink, csv_bars, drain, feed_config, iso_ns, wait_feed

ENCODINGS = ["json", "msgpack"]


def _bars(items: list[FeedItem]) -> list[Bar]:
    return [i for i in items if isinstance(i, Bar)]


def _has_bar(symbol: str, stamp: str):  # noqa: ANN202 - small predicate factory
    ts = iso_ns(stamp)
    return lambda items: any(b.symbol == symbol and b.ts_ns == ts for b in _bars(items))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_feed_when_subscribed_then_bars_and_quotes_equal_the_csv_rows(sim: RunningSim, encoding: str) -> None:
    # Arrange
    feed = AlpacaFeed(feed_config(sim, encoding=encoding, bars=("SPY",), quotes=("SPY",))).start()
    try:
        assert feed.wait_connected(5)
        # Act
        sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})  # bars up to 13:30 are published
        items = drain(feed, [], _has_bar("SPY", "2013-10-07T13:30:00Z"))
        status = feed.status()
    finally:
        feed.stop()
    # Assert
    rows = csv_bars(TRADE_BARS, {"SPY"}, "2013-10-07T13:24:00Z", "2013-10-07T13:30:00Z")
    expected = [("SPY", iso_ns(r["timestamp"]), float(r["open"]), float(r["high"]), float(r["low"]),
                 float(r["close"]), float(r["volume"])) for r in rows]
    got = [(b.symbol, b.ts_ns, b.open, b.high, b.low, b.close, b.volume) for b in _bars(items)]
    assert got == expected and len(expected) == 7
    assert not any(b.backfilled for b in _bars(items))
    quote_rows = csv_bars(QUOTE_BARS, {"SPY"}, "2013-10-07T13:24:00Z", "2013-10-07T13:30:00Z")
    quotes = [(q.ts_ns, q.bid, q.bid_size, q.ask, q.ask_size) for q in items if isinstance(q, Quote)]
    assert quotes == [(iso_ns(r["timestamp"]), float(r["bid_close"]), float(r["bid_size"]),
                       float(r["ask_close"]), float(r["ask_size"])) for r in quote_rows]
    assert status["connected"] and status["bad_frames"] == 0 and status["bad_messages"] == 0


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_feed_when_websocket_dropped_mid_replay_then_every_bar_arrives_exactly_once(
    sim: RunningSim, encoding: str
) -> None:
    # Arrange
    sink = EventSink()
    config = feed_config(sim, encoding=encoding, bars=("SPY", "IBM"), reconnect_delay_s=1.0)
    feed = AlpacaFeed(config, on_event=sink).start()
    items: list[FeedItem] = []
    try:
        assert feed.wait_connected(5)
        sim.admin("/admin/step", {"until": "2013-10-07T13:35:00Z"})
        drain(feed, items, _has_bar("IBM", "2013-10-07T13:34:00Z"))
        # Act: drop the socket, let ten minutes of bars go by while the client waits to reconnect
        sim.admin("/admin/faults", {"drop_websockets": True})
        sim.admin("/admin/step", {"until": "2013-10-07T13:45:00Z"})
        wait_feed(feed, lambda: feed.status()["backfilled"] > 0 and not feed.status()["holding_for_backfill"],
                 what="reconnect and backfill")  # else later live bars could also come by REST (still once)
        sim.admin("/admin/step", {"until": "2013-10-07T13:55:00Z"})
        drain(feed, items, _has_bar("IBM", "2013-10-07T13:54:00Z"))
        status = feed.status()
    finally:
        feed.stop()
    # Assert: the same bars as the CSV, per symbol in time order, none twice
    bars = _bars(items)
    for symbol in ("SPY", "IBM"):
        rows = csv_bars(TRADE_BARS, {symbol}, "2013-10-07T13:24:00Z", "2013-10-07T13:54:00Z")
        expected = [(iso_ns(r["timestamp"]), float(r["close"]), float(r["volume"])) for r in rows]
        assert [(b.ts_ns, b.close, b.volume) for b in bars if b.symbol == symbol] == expected
    gap = csv_bars(TRADE_BARS, {"SPY", "IBM"}, "2013-10-07T13:35:00Z", "2013-10-07T13:44:00Z")
    assert {(b.symbol, b.ts_ns) for b in bars if b.backfilled} == {(r["symbol"], iso_ns(r["timestamp"])) for r in gap}
    after = [b for b in bars if b.ts_ns >= iso_ns("2013-10-07T13:45:00Z")]
    assert after and not any(b.backfilled for b in after)  # re-subscribed: live again
    assert status["backfilled"] == len(gap) and status["reconnects"] == 1
    assert not sink.of_type("feed_out_of_order") and not sink.of_type("feed_down")


def test_feed_when_no_message_for_idle_timeout_then_reconnects(sim: RunningSim) -> None:
    # Arrange: nothing is stepped, so the subscribed socket stays silent
    feed = AlpacaFeed(feed_config(sim, bars=("SPY",), idle_timeout_s=0.3, reconnect_delay_s=0.05)).start()
    try:
        # Act
        wait_feed(feed, lambda: feed.status()["reconnects"] >= 1 and feed.status()["connected"], what="reconnect")
        status = feed.status()
    finally:
        feed.stop()
    # Assert
    assert status["idle_timeouts"] >= 1
    assert "no message for 0.3s" in status["last_error"]


def test_feed_when_reconnected_before_any_bar_then_nothing_is_backfilled_or_duplicated(sim: RunningSim) -> None:
    # Arrange
    feed = AlpacaFeed(feed_config(sim, bars=("SPY",), reconnect_delay_s=0.05)).start()
    items: list[FeedItem] = []
    try:
        assert feed.wait_connected(5)
        sim.admin("/admin/faults", {"drop_websockets": True})
        wait_feed(feed, lambda: feed.status()["reconnects"] == 1 and feed.status()["connected"], what="reconnect")
        # Act
        sim.admin("/admin/step", {"until": "2013-10-07T13:28:00Z"})
        drain(feed, items, _has_bar("SPY", "2013-10-07T13:27:00Z"))
    finally:
        feed.stop()
    # Assert
    rows = csv_bars(TRADE_BARS, {"SPY"}, "2013-10-07T13:24:00Z", "2013-10-07T13:27:00Z")
    assert [b.ts_ns for b in _bars(items)] == [iso_ns(r["timestamp"]) for r in rows]
    assert not any(b.backfilled for b in _bars(items))
