"""AlpacaFeed under faults: a closed port or refused keys raise one critical feed_down after five
failed connects in a row while retrying goes on; malformed frames, unknown types, out-of-order
stamps and server errors are counted and reported, and the client stays connected."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from actors.market_data.alpaca_feed import AlpacaFeed, AlpacaFeedConfig
from actors.market_data.alpaca_feed_parse import FeedItem
from cluster.foundation.domain.wire import Bar
from tests.alpaca.conftest import TRADE_BARS, RunningSim, csv_row
from tests.alpaca.feed_support import EventSink, drain, feed_config, iso_ns, wait_feed


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_feed_when_port_closed_then_one_critical_feed_down_after_five_failures_and_keeps_trying() -> None:
    # Arrange
    sink = EventSink()
    config = AlpacaFeedConfig(f"ws://127.0.0.1:{_closed_port()}", "k", "s", bars=("SPY",),
                              reconnect_delay_s=0.01, reconnect_max_s=0.05, down_after_failures=5)
    feed = AlpacaFeed(config, on_event=sink).start()
    try:
        # Act
        wait_feed(feed, lambda: bool(sink.of_type("feed_down")), what="feed_down")
        failures_at_alert = sink.of_type("feed_down")[0].metadata["failures"]
        wait_feed(feed, lambda: feed.status()["consecutive_failures"] >= 9, what="further attempts")
        status = feed.status()
    finally:
        feed.stop()
    # Assert
    downs = sink.of_type("feed_down")
    assert len(downs) == 1 and downs[0].severity == "critical"
    assert failures_at_alert == 5
    assert status["feed_down"] and not status["connected"]
    assert "ClientConnector" in status["last_error"]


def test_feed_when_keys_refused_then_auth_events_feed_down_and_recovery_after_fix(sim: RunningSim) -> None:
    # Arrange
    sim.admin("/admin/faults", {"reject_auth": True})
    sink = EventSink()
    feed = AlpacaFeed(feed_config(sim, bars=("SPY",), reconnect_delay_s=0.01, reconnect_max_s=0.05),
                      on_event=sink).start()
    try:
        wait_feed(feed, lambda: bool(sink.of_type("feed_down")), what="feed_down")
        # Act: the keys are accepted again
        sim.admin("/admin/faults", {"reject_auth": False})
        wait_feed(feed, lambda: feed.status()["connected"], what="connected")
        status = feed.status()
    finally:
        feed.stop()
    # Assert
    refusals = sink.of_type("feed_auth_failed")
    assert len(refusals) >= 5 and all(e.severity == "critical" and e.metadata["code"] == 402 for e in refusals)
    assert "auth failed" in refusals[0].message
    assert len(sink.of_type("feed_down")) == 1 and len(sink.of_type("feed_restored")) == 1
    assert not status["feed_down"] and status["auth_failures"] == len(refusals)


# ---- a scripted server for bad input -----------------------------------------------------------------
def _bar(stamp: str) -> dict[str, Any]:
    row = csv_row(TRADE_BARS, "SPY", stamp)
    return {"T": "b", "S": "SPY", "o": float(row["open"]), "h": float(row["high"]), "l": float(row["low"]),
            "c": float(row["close"]), "v": int(row["volume"]), "t": stamp, "n": None, "vw": None}


SCRIPT: list[str] = [
    "this is not json{",
    json.dumps([{"T": "zz", "S": "SPY"}, _bar("2013-10-07T13:31:00Z")]),
    json.dumps([_bar("2013-10-07T13:30:00Z")]),  # older than 13:31: out of order
    json.dumps([{"T": "b", "S": "SPY", "t": "2013-10-07T13:32:00Z"}]),  # fields missing
    json.dumps([{"T": "error", "code": 500, "msg": "internal error"}]),
    json.dumps([_bar("2013-10-07T13:32:00Z")]),
]


async def _scripted(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str(json.dumps([{"T": "success", "msg": "connected"}]))
    await ws.receive()
    await ws.send_str(json.dumps([{"T": "success", "msg": "authenticated"}]))
    await ws.receive()
    await ws.send_str(json.dumps([{"T": "subscription", "bars": ["SPY"]}]))
    for frame in SCRIPT:
        await ws.send_str(frame)
    async for _ in ws:  # keep the socket open until the client leaves
        pass
    return ws


@pytest.fixture
def scripted_server() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def serve() -> None:
        async def start() -> web.AppRunner:
            app = web.Application()
            app.add_routes([web.get("/v2/iex", _scripted)])
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            holder["port"] = runner.addresses[0][1]
            return runner

        runner = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield int(holder["port"])
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_feed_when_frames_are_bad_then_each_is_reported_and_good_bars_still_arrive(scripted_server: int) -> None:
    # Arrange
    sink = EventSink()
    config = AlpacaFeedConfig(f"ws://127.0.0.1:{scripted_server}", "k", "s", bars=("SPY",))
    feed = AlpacaFeed(config, on_event=sink).start()
    stamp = iso_ns("2013-10-07T13:32:00Z")
    try:
        # Act
        items: list[FeedItem] = drain(feed, [], lambda got: any(getattr(i, "ts_ns", 0) == stamp for i in got))
        status = feed.status()
    finally:
        feed.stop()
    # Assert
    bars = [i for i in items if isinstance(i, Bar)]
    assert [b.ts_ns for b in bars] == [iso_ns("2013-10-07T13:31:00Z"), stamp]
    assert bars[1].close == float(csv_row(TRADE_BARS, "SPY", "2013-10-07T13:32:00Z")["close"])
    assert status["connected"] and status["reconnects"] == 0
    assert (status["bad_frames"], status["unknown_messages"], status["out_of_order"], status["bad_messages"],
            status["server_errors"]) == (1, 1, 1, 1, 1)
    kinds = [e.event_type for e in sink.events]
    assert kinds == ["feed_bad_frame", "feed_unknown_type", "feed_out_of_order", "feed_bad_message",
                     "feed_server_error"]
    assert "zz" in sink.of_type("feed_unknown_type")[0].message
    late = sink.of_type("feed_out_of_order")[0].metadata
    assert (late["symbol"], late["ts_ns"], late["last_ts_ns"]) == ("SPY", iso_ns("2013-10-07T13:30:00Z"),
                                                                  iso_ns("2013-10-07T13:31:00Z"))


def test_feed_when_event_callback_raises_then_the_feed_keeps_running(scripted_server: int) -> None:
    # Arrange
    def broken(_event: object) -> None:
        raise RuntimeError("consumer bug")

    config = AlpacaFeedConfig(f"ws://127.0.0.1:{scripted_server}", "k", "s", bars=("SPY",))
    feed = AlpacaFeed(config, on_event=broken).start()
    stamp = iso_ns("2013-10-07T13:32:00Z")
    try:
        # Act
        drain(feed, [], lambda got: any(getattr(i, "ts_ns", 0) == stamp for i in got))
        events = feed.take_events()
    finally:
        feed.stop()
    # Assert: the events are still kept for take_events()
    assert len(events) == 5
