"""Websockets: the trade_updates stream (/stream) and the market-data streams (/v2/{feed},
/v1beta3/crypto/{loc}), with the handshakes of docs/alpaca-protocol.md A2 and A3.

Each socket gets a bounded frame queue drained by its own writer task, so a slow client never
blocks the replay: when its queue is full it gets error 407 and is dropped, like Alpaca does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from alpaca_sim.daily import DailyBars
from alpaca_sim.data import BarEvent, MarketEvent, QuoteEvent, TradeEvent, is_crypto
from alpaca_sim.jsonio import decode_json
from alpaca_sim.models import Execution
from alpaca_sim.timefmt import format_utc, msgpack_timestamp

log = logging.getLogger(__name__)
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "orderbooks")
_TAPES = {"SPY": "B", "AAPL": "C", "QQQ": "C"}
_MSGPACK = "application/msgpack"
MAX_SYMBOLS = 10_000  # per connection, over all channels


@dataclass(eq=False)
class Peer:
    ws: web.WebSocketResponse
    msgpack: bool = False
    crypto: bool = False
    key: str = ""
    authenticated: bool = False
    listening: bool = False
    subs: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CHANNELS})
    queue: asyncio.Queue[bytes | str | None] = field(default_factory=lambda: asyncio.Queue(1024))


class StreamHub:
    """Every open socket of one kind; `drop_all` closes them (fault injection)."""

    def __init__(self, max_queued: int) -> None:
        self.peers: set[Peer] = set()
        self.max_queued = max_queued

    def new_peer(self, ws: web.WebSocketResponse, **kwargs: Any) -> Peer:
        peer = Peer(ws, queue=asyncio.Queue(self.max_queued), **kwargs)
        self.peers.add(peer)
        return peer

    def send(self, peer: Peer, frame: bytes | str) -> None:
        try:
            peer.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("dropping slow websocket client %s", peer.key)
            self.peers.discard(peer)
            asyncio.get_running_loop().create_task(peer.ws.close(code=1008, message=b"slow client"))

    async def drop_all(self) -> None:
        peers, self.peers = list(self.peers), set()
        for peer in peers:
            await peer.ws.close(code=1001, message=b"dropped by fault injection")


async def _writer(peer: Peer) -> None:
    while (frame := await peer.queue.get()) is not None:
        if peer.ws.closed:
            return
        if isinstance(frame, bytes):
            await peer.ws.send_bytes(frame)
        else:
            await peer.ws.send_str(frame)


async def _serve(hub: StreamHub, peer: Peer, on_message: Callable[[Peer, object], None],
                 on_error: Callable[[Peer], None]) -> None:
    writer = asyncio.get_running_loop().create_task(_writer(peer))
    try:
        async for msg in peer.ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    on_message(peer, _decode(msg.data, peer.msgpack))
                except Exception:  # a message the checks missed must not end the connection
                    log.exception("websocket message could not be handled")
                    on_error(peer)
    finally:
        hub.peers.discard(peer)
        peer.queue.put_nowait(None) if not peer.queue.full() else writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


_BAD = object()


def _decode(data: str | bytes, msgpack: bool) -> object:
    try:
        if msgpack and isinstance(data, bytes):
            return msgspec.msgpack.decode(data)
        return decode_json(data)
    except (ValueError, msgspec.DecodeError, RecursionError):
        return _BAD


# ---- trade_updates ---------------------------------------------------------------------------
class TradeUpdates:
    """Auth, then `listen`; events go to sockets listening to trade_updates, as binary JSON."""

    def __init__(self, hub: StreamHub, check_keys: Callable[[str, str], bool]) -> None:
        self.hub = hub
        self._check_keys = check_keys

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await _serve(self.hub, self.hub.new_peer(ws), self._on_message,
                     lambda peer: self._reply(peer, "error", {"code": 400, "message": "invalid syntax"}))
        return ws

    def _reply(self, peer: Peer, stream: str, data: dict[str, Any]) -> None:
        self.hub.send(peer, json.dumps({"stream": stream, "data": data}).encode())

    def _on_message(self, peer: Peer, msg: object) -> None:
        if not isinstance(msg, dict) or not isinstance(msg.get("data"), dict):
            self._reply(peer, "error", {"code": 400, "message": "invalid syntax"})
            return
        action, data = msg.get("action"), msg["data"]
        if action == "authenticate":
            key, secret = data.get("key_id"), data.get("secret_key")
            ok = isinstance(key, str) and isinstance(secret, str) and self._check_keys(key, secret)
            peer.authenticated = ok
            body = {"status": "authorized" if ok else "unauthorized", "action": "authenticate"}
            if not ok:
                body["message"] = "access key verification failed"
            self._reply(peer, "authorization", body)
        elif action == "listen":
            if not peer.authenticated:
                self._reply(peer, "authorization", {"status": "unauthorized", "action": "listen"})
                return
            asked = data.get("streams", [])
            if not isinstance(asked, list):
                self._reply(peer, "error", {"code": 400, "message": "invalid syntax: streams must be a list"})
                return
            streams = ["trade_updates"] if "trade_updates" in asked else []
            peer.listening = bool(streams)
            self._reply(peer, "listening", {"streams": streams})
        else:
            self._reply(peer, "error", {"code": 400, "message": f"unknown action: {action!r}"})

    def publish(self, executions: list[Execution]) -> None:
        for execution in executions:
            frame = json.dumps({"stream": "trade_updates", "data": execution_json(execution)}).encode()
            for peer in list(self.hub.peers):
                if peer.listening:
                    self.hub.send(peer, frame)


def execution_json(execution: Execution) -> dict[str, Any]:
    data: dict[str, Any] = {"event": execution.event, "timestamp": format_utc(execution.ts_ns), "order": execution.order}
    if execution.execution_id is not None:
        data["execution_id"] = execution.execution_id
    for key in ("price", "qty", "position_qty"):
        value = getattr(execution, key)
        if value is not None:
            data[key] = format(value.normalize(), "f")
    return data


# ---- market data ------------------------------------------------------------------------------
class MarketData:
    """Stocks v2 and crypto v1beta3: connected, auth, subscribe/unsubscribe, batched data."""

    def __init__(self, hub: StreamHub, check_keys: Callable[[str, str], bool], auth_timeout_s: float) -> None:
        self.hub = hub
        self._check_keys = check_keys
        self._auth_timeout_s = auth_timeout_s
        self._daily = DailyBars()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        crypto = request.path.startswith("/v1beta3/")
        peer = self.hub.new_peer(ws, msgpack=request.headers.get("Content-Type", "") == _MSGPACK, crypto=crypto)
        self._control(peer, {"T": "success", "msg": "connected"})
        header_key = request.headers.get("APCA-API-KEY-ID")
        if header_key is not None:
            self._authenticate(peer, header_key, request.headers.get("APCA-API-SECRET-KEY", ""))
        timer = asyncio.get_running_loop().call_later(self._auth_timeout_s, self._auth_timeout, peer)
        try:
            await _serve(self.hub, peer, self._on_message, lambda p: self._error(p, 400, "invalid syntax"))
        finally:
            timer.cancel()
        return ws

    def _encode(self, peer: Peer, messages: list[dict[str, Any]]) -> bytes | str:
        if peer.msgpack:
            return msgspec.msgpack.encode(messages)
        return json.dumps([{**m, "t": format_utc(m["t"])} if isinstance(m.get("t"), int) else m for m in messages])

    def _control(self, peer: Peer, message: dict[str, Any]) -> None:
        self.hub.send(peer, self._encode(peer, [message]))

    def _error(self, peer: Peer, code: int, text: str) -> None:
        self._control(peer, {"T": "error", "code": code, "msg": text})

    def _auth_timeout(self, peer: Peer) -> None:
        if not peer.authenticated and not peer.ws.closed:
            self._error(peer, 404, "auth timeout")
            peer.queue.put_nowait(None) if not peer.queue.full() else None
            asyncio.get_running_loop().create_task(_close_after_flush(peer))

    def _authenticate(self, peer: Peer, key: str, secret: str) -> None:
        if peer.authenticated:
            self._error(peer, 403, "already authenticated")
        elif not self._check_keys(key, secret):
            self._error(peer, 402, "auth failed")
        elif any(p.authenticated and p.key == key and p.crypto == peer.crypto for p in self.hub.peers):
            self._error(peer, 406, "connection limit exceeded")
        else:
            peer.authenticated, peer.key = True, key
            self._control(peer, {"T": "success", "msg": "authenticated"})

    def _on_message(self, peer: Peer, msg: object) -> None:
        if not isinstance(msg, dict):
            self._error(peer, 400, "invalid syntax")
            return
        action = msg.get("action")
        if action == "auth":
            key, secret = msg.get("key"), msg.get("secret")
            if not isinstance(key, str) or not isinstance(secret, str):
                self._error(peer, 402, "auth failed")
                return
            self._authenticate(peer, key, secret)
        elif action in ("subscribe", "unsubscribe"):
            if not peer.authenticated:
                self._error(peer, 401, "not authenticated")
                return
            asked = {channel: msg.get(channel) or [] for channel in CHANNELS}
            if not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in asked.values()):
                self._error(peer, 400, "invalid syntax")
                return
            if action == "subscribe" and sum(len(peer.subs[c] | set(asked[c])) for c in CHANNELS) > MAX_SYMBOLS:
                self._error(peer, 405, "symbol limit exceeded")  # the subscription is left as it was
                return
            for channel, symbols in asked.items():
                (peer.subs[channel].update if action == "subscribe" else peer.subs[channel].difference_update)(symbols)
            self._control(peer, self._subscription(peer))
        else:
            self._error(peer, 400, "invalid syntax")

    @staticmethod
    def _subscription(peer: Peer) -> dict[str, Any]:
        reply: dict[str, Any] = {"T": "subscription"}
        for channel in CHANNELS:
            if channel != "orderbooks" or peer.crypto:
                reply[channel] = sorted(peer.subs[channel])
        if not peer.crypto:
            reply["corrections"] = sorted(peer.subs["trades"])
            reply["cancelErrors"] = sorted(peer.subs["trades"])
        return reply

    def seed_daily(self, bars: list[BarEvent]) -> None:
        """Minute bars published before the replay started still count towards their day."""
        for bar in bars:
            self._daily.update(bar)

    def publish(self, events: list[MarketEvent]) -> None:
        dailies = [self._daily.update(e) for e in events if isinstance(e, BarEvent)]
        for peer in list(self.hub.peers):
            if not peer.authenticated:
                continue
            batch = [self._message(e, peer) for e in events if _wanted(peer, e)]
            batch += [{**self._message(d, peer), "T": "d"} for d in dailies
                      if is_crypto(d.symbol) == peer.crypto and _subscribed(peer, "dailyBars", d.symbol)]
            if batch:
                self.hub.send(peer, self._encode(peer, batch))

    @staticmethod
    def _message(event: MarketEvent, peer: Peer) -> dict[str, Any]:
        stamp: Any = msgpack_timestamp(event.ts_ns) if peer.msgpack else event.ts_ns
        if isinstance(event, BarEvent):
            volume = int(event.volume) if event.volume.is_integer() and not peer.crypto else event.volume
            return {"T": "b", "S": event.symbol, "o": event.open, "h": event.high, "l": event.low, "c": event.close,
                    "v": volume, "t": stamp, "n": event.trade_count, "vw": event.vwap}
        if isinstance(event, QuoteEvent):
            if peer.crypto:
                return {"T": "q", "S": event.symbol, "bp": event.bid, "bs": event.bid_size, "ap": event.ask,
                        "as": event.ask_size, "t": stamp}
            return {"T": "q", "S": event.symbol, "bx": "", "bp": event.bid, "bs": int(event.bid_size), "ax": "",
                    "ap": event.ask, "as": int(event.ask_size), "c": [], "t": stamp, "z": _TAPES.get(event.symbol, "A")}
        if peer.crypto:
            return {"T": "t", "S": event.symbol, "p": event.price, "s": event.size, "t": stamp, "i": event.trade_id,
                    "tks": "B"}
        return {"T": "t", "S": event.symbol, "i": event.trade_id, "x": event.exchange, "p": event.price,
                "s": int(event.size), "c": [], "t": stamp, "z": _TAPES.get(event.symbol, "A")}


def _wanted(peer: Peer, event: MarketEvent) -> bool:
    if is_crypto(event.symbol) != peer.crypto:
        return False
    channel = "bars" if isinstance(event, BarEvent) else "quotes" if isinstance(event, QuoteEvent) else "trades"
    assert isinstance(event, BarEvent | QuoteEvent | TradeEvent)
    return _subscribed(peer, channel, event.symbol)


def _subscribed(peer: Peer, channel: str, symbol: str) -> bool:
    subs = peer.subs[channel]
    return "*" in subs or symbol in subs


async def _close_after_flush(peer: Peer) -> None:
    await asyncio.sleep(0.05)
    await peer.ws.close()
