"""Run the simulator in-process on a free loopback port, in its own thread and event loop."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from actors.execution.alpaca_rest import AlpacaClientConfig
from alpaca_sim import SimConfig, create_app
from alpaca_sim.data import MarketEvent, load_timeline

DATA = Path(__file__).resolve().parents[2] / "data"
TRADE_BARS = DATA / "us_equity_minute_trade_bars.csv"
QUOTE_BARS = DATA / "us_equity_minute_quote_bars.csv"
START = "2013-10-07T13:25:00Z"
_TIMELINE = load_timeline([TRADE_BARS, QUOTE_BARS])


def csv_row(path: Path, symbol: str, timestamp: str) -> dict[str, str]:
    """The raw CSV row, read independently of the simulator's reader."""
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["symbol"] == symbol and row["timestamp"] == timestamp:
                return row
    raise LookupError(f"{symbol} {timestamp} not in {path.name}")


@dataclass
class RunningSim:
    port: int
    config: SimConfig

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"APCA-API-KEY-ID": self.config.key_id, "APCA-API-SECRET-KEY": self.config.secret_key}
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def raw(self, method: str, path: str, body: dict[str, Any] | None = None,
            secret: str | None = None) -> tuple[int, dict[str, str], Any]:
        headers = {"APCA-API-KEY-ID": self.config.key_id,
                   "APCA-API-SECRET-KEY": secret or self.config.secret_key, "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return response.status, dict(response.headers), json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            text = err.read()
            return err.code, dict(err.headers), json.loads(text) if text else None

    def client_config(self, **changes: Any) -> AlpacaClientConfig:
        base = AlpacaClientConfig(self.url, self.config.key_id, self.config.secret_key,
                                  backoff_base_s=0.02, backoff_max_s=0.1, timeout_s=5.0)
        return replace(base, **changes)


def _serve(config: SimConfig, ready: threading.Event, holder: dict[str, Any],
           events: list[MarketEvent] | None = None) -> None:
    loop = asyncio.new_event_loop()
    holder["loop"] = loop

    async def start() -> web.AppRunner:
        runner = web.AppRunner(create_app(config, events=list(_TIMELINE) if events is None else events))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["port"] = runner.addresses[0][1]
        return runner

    runner = loop.run_until_complete(start())
    ready.set()
    loop.run_forever()
    loop.run_until_complete(runner.cleanup())
    loop.close()


def start_sim(events: list[MarketEvent] | None = None, **changes: Any) -> tuple[RunningSim, Any]:
    base = SimConfig(start=START, initial_cash=Decimal(1_000_000), auth_timeout_s=2.0)
    config = replace(base, **changes)
    ready, holder = threading.Event(), {}
    thread = threading.Thread(target=_serve, args=(config, ready, holder, events), daemon=True)
    thread.start()
    assert ready.wait(15), "simulator did not start"

    def stop() -> None:
        holder["loop"].call_soon_threadsafe(holder["loop"].stop)
        thread.join(10)

    return RunningSim(holder["port"], config), stop


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    running, stop = start_sim()
    yield running
    stop()


def trading_client(sim: RunningSim) -> Any:
    """The official alpaca-py TradingClient pointed at the simulator."""
    from alpaca.trading.client import TradingClient

    return TradingClient(sim.config.key_id, sim.config.secret_key, paper=True, url_override=sim.url)


class TradeEvents:
    """trade_updates of the simulator, collected by a websocket client on its own thread."""

    def __init__(self, sim: RunningSim) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(sim.url),),
                                        daemon=True)
        self._thread.start()
        assert self._listening.wait(10), "trade_updates did not start"

    async def _run(self, url: str) -> None:
        import aiohttp

        self._stop = asyncio.Event()
        async with aiohttp.ClientSession() as session, session.ws_connect(url + "/stream") as ws:
            await ws.send_str(json.dumps({"action": "authenticate",
                                          "data": {"key_id": "sim-key", "secret_key": "sim-secret"}}))
            await ws.send_str(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            reader = asyncio.ensure_future(self._read(ws))
            await self._stop.wait()
            reader.cancel()

    async def _read(self, ws: Any) -> None:
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame["stream"] == "listening":
                self._listening.set()
            elif frame["stream"] == "trade_updates":
                with self._changed:
                    self.events.append(frame["data"])
                    self._changed.notify_all()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The first `count` events (fewer only if they never come)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.events) >= count, timeout_s)
            return list(self.events[:count])

    def of(self, order_id: str) -> list[str]:
        with self._changed:
            return [e["event"] for e in self.events if e["order"]["id"] == order_id]

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def events(sim: RunningSim) -> Iterator[TradeEvents]:
    collector = TradeEvents(sim)
    yield collector
    collector.close()
