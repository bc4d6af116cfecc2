"""The trade_updates websocket: authenticate, listen, hand every event to a callback, reconnect.

A malformed frame or an unknown message is logged and counted, never fatal. Refused keys raise
ConfigError (reconnecting would be refused again); any other loss reconnects with exponential
backoff and jitter, and `on_connected` runs after each (re)connect so the owner can reconcile
what it missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from actors.execution.alpaca_rest import AlpacaClientConfig
from cluster.foundation.domain.errors import ConfigError

log = logging.getLogger(__name__)


class TradeUpdatesStream:
    def __init__(
        self,
        config: AlpacaClientConfig,
        session: aiohttp.ClientSession,
        on_event: Callable[[dict[str, Any]], None],
        on_connected: Callable[[], Awaitable[None]],
    ) -> None:
        self._config = config
        self._session = session
        self._on_event = on_event
        self._on_connected = on_connected
        self.connected = asyncio.Event()
        self.connects = 0
        self.bad_frames = 0
        self.last_problem = ""

    async def run_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._run_once()
                delay = 0.5
            except ConfigError:
                raise
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                self.last_problem = str(exc)
                log.warning("trade_updates stream lost: %s; reconnecting in %.1fs", exc, delay)
            self.connected.clear()
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(self._config.reconnect_max_s, delay * 2)

    async def _run_once(self) -> None:
        async with self._session.ws_connect(self._config.trade_stream_url, heartbeat=10) as ws:
            await ws.send_str(json.dumps({"action": "authenticate", "data": {
                "key_id": self._config.key_id.get_secret_value(),
                "secret_key": self._config.secret_key.get_secret_value()}}))
            reply = await self._next_json(ws)
            if reply is None or reply.get("data", {}).get("status") != "authorized":
                raise ConfigError(f"trade_updates stream refused the keys: {reply}")
            await ws.send_str(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            self.connects += 1
            self.connected.set()
            await self._on_connected()
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self._dispatch(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break

    async def _next_json(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any] | None:
        while True:
            msg = await ws.receive(timeout=self._config.timeout_s)
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                raise ConnectionError(f"stream closed during the handshake ({msg.type.name})")
            parsed = self._parse(msg.data)
            if parsed is not None:
                return parsed

    def _parse(self, data: str | bytes) -> dict[str, Any] | None:
        try:
            parsed = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            self._bad(f"undecodable frame ({exc}): {data[:80]!r}")
            return None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("data"), dict):
            self._bad(f"frame is not a {{stream, data}} object: {str(parsed)[:80]}")
            return None
        return parsed

    def _bad(self, problem: str) -> None:
        self.bad_frames += 1
        self.last_problem = problem
        log.error("trade_updates: %s", problem)

    def _dispatch(self, data: str | bytes) -> None:
        parsed = self._parse(data)
        if parsed is None:
            return
        stream = parsed.get("stream")
        if stream == "trade_updates":
            try:
                self._on_event(parsed["data"])
            except Exception as exc:  # one unusable event must not end the stream
                self._bad(f"unusable trade_updates event: {exc}")
        elif stream not in ("listening", "authorization"):
            self._bad(f"unknown stream {stream!r}: {str(parsed)[:120]}")
