"""A hostile or broken feed server: malformed frames between good ones cost only themselves, and a
connection task that dies all the same is reported, restarted, and never shown as connected."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from aiohttp import web
from pydantic import SecretStr

from actors.market_data.alpaca_feed import AlpacaFeed, AlpacaFeedConfig
from actors.market_data.alpaca_feed_parse import FeedItem
from actors.market_data.alpaca_feed_sequence import FeedSequencer, Released
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.wire import Bar
from tests.alpaca.conftest import TRADE_BARS, csv_row
from tests.alpaca.feed_support import EventSink, drain, iso_ns, wait_feed

STAMPS = ("2013-10-07T13:31:00Z", "2013-10-07T13:32:00Z", "2013-10-07T13:33:00Z")


def _bar(stamp: str) -> dict[str, Any]:
    row = csv_row(TRADE_BARS, "SPY", stamp)
    return {"T": "b", "S": "SPY", "o": float(row["open"]), "h": float(row["high"]), "l": float(row["low"]),
            "c": float(row["close"]), "v": int(row["volume"]), "t": stamp}


class ScriptedFeed:
    """A websocket feed that completes the handshake and sends `frames` on every connection."""

    def __init__(self) -> None:
        self.frames: list[str | bytes] = []
        self.connections = 0
        self.port = 0
        self.msgpack = False

    async def _control(self, ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        if self.msgpack:
            await ws.send_bytes(msgspec.msgpack.encode([message]))
        else:
            await ws.send_str(json.dumps([message]))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self._control(ws, {"T": "success", "msg": "connected"})
        await ws.receive()
        await self._control(ws, {"T": "success", "msg": "authenticated"})
        await ws.receive()
        await self._control(ws, {"T": "subscription", "bars": ["SPY"]})
        for frame in self.frames:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
        async for _ in ws:
            pass
        return ws


@pytest.fixture
def scripted() -> Iterator[ScriptedFeed]:
    feed = ScriptedFeed()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        async def start() -> web.AppRunner:
            app = web.Application()
            app.add_routes([web.get("/v2/iex", feed.handle)])
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            feed.port = runner.addresses[0][1]
            return runner

        runner = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield feed
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _config(port: int) -> AlpacaFeedConfig:
    return AlpacaFeedConfig(f"ws://127.0.0.1:{port}", "k", "s", bars=("SPY",), backfill=False,
                            reconnect_delay_s=0.05, reconnect_max_s=0.2)


def _run(feed: AlpacaFeed, until: Callable[[list[FeedItem]], bool]) -> tuple[list[FeedItem], dict[str, Any]]:
    feed.start()
    try:
        items = drain(feed, [], until)
        return items, feed.status()
    finally:
        feed.stop()


def _bar_stamps(items: list[FeedItem]) -> list[int]:
    return [i.ts_ns for i in items if isinstance(i, Bar)]


MALFORMED_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("deep json nesting", "[" * 3000 + "]" * 3000, "bad_frames"),
    ("type is a list", json.dumps([{"T": [1]}]), "bad_messages"),
    ("type is an object", json.dumps([{"T": {}}]), "bad_messages"),
    ("not json", "\x00\x01 not a frame", "bad_frames"),
]


@pytest.mark.parametrize(("name", "malformed", "counter"), MALFORMED_FRAMES, ids=[m[0] for m in MALFORMED_FRAMES])
def test_feed_when_a_malformed_frame_sits_between_good_ones_then_every_good_bar_arrives_and_one_is_counted(
        scripted: ScriptedFeed, name: str, malformed: str | bytes, counter: str) -> None:
    # Arrange
    scripted.frames = [json.dumps([_bar(STAMPS[0])]), malformed, json.dumps([_bar(STAMPS[1])]),
                       json.dumps([_bar(STAMPS[2])])]
    last = iso_ns(STAMPS[2])
    # Act
    items, status = _run(AlpacaFeed(_config(scripted.port)), lambda got: last in _bar_stamps(got))
    # Assert
    assert _bar_stamps(items) == [iso_ns(s) for s in STAMPS]
    assert status[counter] == 1
    assert status["connected"] and status["reconnects"] == 0 and status["task_restarts"] == 0


def test_msgpack_feed_when_a_string_is_invalid_utf8_then_good_bars_still_arrive(scripted: ScriptedFeed) -> None:
    # Arrange: a msgpack frame whose symbol holds bytes that are not UTF-8
    good = [msgspec.msgpack.encode([{**_bar(s), "t": msgspec.msgpack.Ext(-1, int(iso_ns(s) // 10**9).to_bytes(4))}])
            for s in STAMPS]
    bad = msgspec.msgpack.encode([{"T": "b", "S": "SPY"}]).replace(b"\xa3SPY", b"\xa3\xff\xfe\xfd")
    scripted.frames = [good[0], bad, good[1], good[2]]
    scripted.msgpack = True
    config = AlpacaFeedConfig(f"ws://127.0.0.1:{scripted.port}", "k", "s", bars=("SPY",), backfill=False,
                              encoding="msgpack")
    last = iso_ns(STAMPS[2])
    # Act
    items, status = _run(AlpacaFeed(config), lambda got: last in _bar_stamps(got))
    # Assert
    assert _bar_stamps(items) == [iso_ns(s) for s in STAMPS]
    assert status["bad_messages"] == 1


class SequencerFailingOnce(FeedSequencer):
    """A sequencer with a bug that shows on the first live batch only."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def live(self, items: list[FeedItem]) -> Released:
        if not self.failed:
            self.failed = True
            raise RuntimeError("sequencer bug")
        return super().live(items)


def test_feed_when_its_task_dies_then_it_is_reported_restarted_and_bars_flow_again(scripted: ScriptedFeed) -> None:
    # Arrange
    scripted.frames = [json.dumps([_bar(STAMPS[0])])]
    sink = EventSink()
    feed = AlpacaFeed(_config(scripted.port), on_event=sink, sequencer=SequencerFailingOnce())
    first = iso_ns(STAMPS[0])
    # Act: the first connection's bar kills the task; the restarted one delivers it again
    items, status = _run(feed, lambda got: first in _bar_stamps(got))
    # Assert
    assert status["task_restarts"] == 1
    assert scripted.connections == 2
    assert "sequencer bug" in sink.of_type("feed_task_died")[0].message
    assert sink.of_type("feed_task_died")[0].severity == "critical"


def test_status_when_the_task_is_dead_then_connected_is_false(scripted: ScriptedFeed) -> None:
    # Arrange: a restart delay long enough to look at the feed while its task is dead
    scripted.frames = [json.dumps([_bar(STAMPS[0])])]
    config = AlpacaFeedConfig(f"ws://127.0.0.1:{scripted.port}", "k", "s", bars=("SPY",), backfill=False,
                              reconnect_delay_s=30.0)
    feed = AlpacaFeed(config, sequencer=SequencerFailingOnce()).start()
    try:
        # Act
        wait_feed(feed, lambda: feed.status()["task_restarts"] == 1, what="the task to die")
        status = feed.status()
    finally:
        feed.stop()
    # Assert
    assert status["connected"] is False and status["task_alive"] is False
    assert "sequencer bug" in status["last_error"]


# --- 8. keys ------------------------------------------------------------------------------------


def test_feed_config_when_printed_then_keys_are_hidden() -> None:
    config = AlpacaFeedConfig("wss://stream.data.alpaca.markets", "AKID-REAL-123", "very-secret-key")
    text = repr(config) + str(config)
    assert "AKID-REAL-123" not in text and "very-secret-key" not in text
    assert isinstance(config.key_id, SecretStr)
    assert config.auth_headers()["APCA-API-SECRET-KEY"] == "very-secret-key"


@pytest.mark.parametrize("url", ["ws://stream.data.alpaca.markets", "ws://10.0.0.5:8190"])
def test_feed_config_when_remote_url_is_not_tls_then_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="wss://"):
        AlpacaFeedConfig(url, "AKID", "secret")


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8190", "ws://localhost:8190", "wss://stream.data.alpaca.markets"])
def test_feed_config_when_loopback_or_tls_then_accepted(url: str) -> None:
    AlpacaFeedConfig(url, "AKID", "secret")
