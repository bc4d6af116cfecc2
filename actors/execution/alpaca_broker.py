"""AlpacaBroker: the Broker interface (actors/execution/broker.py) over Alpaca REST v2.

The execution core is synchronous, aiohttp is not. The HTTP session and the trade_updates websocket
live on an asyncio loop that the caller's thread drives (cluster/foundation/runtime/loop_io.py):
every facade method runs its coroutine there, on the calling thread, and the stream's reader task
makes progress whenever that thread drives the loop (a call, poll(), or the execution actor's idle
wait on the same LoopIO). On the data path no thread hands anything to another; a control call from
another thread (an operator's position query while execution recovers) takes the loop in turn.

The adapter only translates Alpaca's orders and events into OrderUpdates
(actors/execution/alpaca_updates.py); the same change reaching us twice (REST answer and stream) is
the execution core's to recognise. The stream appends to a deque that poll() drains (whichever
thread drove the loop when the event came) and wakes the loop's owner; every (re)connect of the
stream puts a Reconnected marker in it, so execution reconciles.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp

from actors.execution.alpaca_rest import AlpacaClientConfig, AlpacaRest
from actors.execution.alpaca_stream import TradeUpdatesStream
from actors.execution.alpaca_updates import event_to_update, order_to_update
from actors.execution.broker import BrokerSnapshot, MarketItem, Polled, Reconnected
from actors.execution.rate_limit import monotonic_budget
from actors.execution.reconcile import read_snapshot
from cluster.foundation.domain.errors import DependencyDown, OrderRejected, TemporaryError
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.runtime.loop_io import LoopIO

log = logging.getLogger(__name__)
T = TypeVar("T")


def order_payload(intent: OrderIntent) -> dict[str, Any]:
    """The POST /v2/orders body; decimals go as strings so no precision is lost."""
    payload: dict[str, Any] = {
        "symbol": intent.symbol, "qty": str(intent.qty), "side": intent.side, "type": intent.order_type,
        "time_in_force": intent.time_in_force, "client_order_id": intent.client_order_id,
    }
    if intent.limit_price is not None:
        payload["limit_price"] = str(intent.limit_price)
    if intent.stop_price is not None:
        payload["stop_price"] = str(intent.stop_price)
    return payload


class AlpacaBroker:
    def __init__(self, config: AlpacaClientConfig, *, stream: bool = True, call_timeout_s: float = 60.0,
                 io: LoopIO | None = None) -> None:
        self.config = config
        self._want_stream = stream
        self._call_timeout_s = call_timeout_s
        self.io = io or LoopIO("alpaca-broker")
        self._updates: deque[Polled] = deque()
        self._correlation: dict[str, str] = {}  # client_order_id -> correlation id of the intent
        self._session: aiohttp.ClientSession | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self.rest: AlpacaRest
        self.stream: TradeUpdatesStream | None = None

    # ---- life cycle ----------------------------------------------------------------------------
    def start(self, wait_for_stream_s: float = 10.0) -> AlpacaBroker:
        """Open the session; with a stream, wait until it is authorized and listening."""
        self._call(self._open(), "opening the session")
        if self.stream is not None and wait_for_stream_s > 0:
            self._call(self._wait_stream(wait_for_stream_s), "the trade_updates stream")
        return self

    def close(self) -> None:
        """Close the session and the stream, then the loop (the broker owns the LoopIO it was given)."""
        if self.io.closed:
            return
        try:
            if self._session is not None:
                self._call(self._close(), "closing the session")
        finally:
            self.io.close()

    def __enter__(self) -> AlpacaBroker:
        return self if self._session is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    async def _open(self) -> None:
        self._session = aiohttp.ClientSession()
        budget = monotonic_budget(self.config.rate_limit, self.config.rate_window_s)
        self.rest = AlpacaRest(self.config, self._session, budget)
        if self._want_stream:
            self.stream = TradeUpdatesStream(self.config, self._session, self._on_event, self._on_connected)
            self._stream_task = asyncio.get_running_loop().create_task(self.stream.run_forever())

    async def _wait_stream(self, timeout_s: float) -> None:
        assert self.stream is not None and self._stream_task is not None
        waiter = asyncio.ensure_future(self.stream.connected.wait())
        done, _ = await asyncio.wait({waiter, self._stream_task}, timeout=timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self._stream_task in done:
            waiter.cancel()
            self._stream_task.result()  # raises the ConfigError that ended it
        if waiter not in done:
            waiter.cancel()
            raise DependencyDown(f"trade_updates stream not connected within {timeout_s}s: {self.stream.last_problem}")

    async def _close(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            await asyncio.gather(self._stream_task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _call(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        return self.io.run(coro, self._call_timeout_s, f"Alpaca call ({what})")

    # ---- stream side (runs on the loop) ---------------------------------------------------------
    def _on_event(self, data: dict[str, Any]) -> None:
        cid = str(data.get("order", {}).get("client_order_id", ""))
        update = event_to_update(data, self._correlation.get(cid, ""))
        if update is not None:
            self._updates.append(update)
            self.io.wake()

    async def _on_connected(self) -> None:
        """Events sent while the stream was down are lost: tell execution, in line with the updates."""
        assert self.stream is not None
        log.info("trade_updates stream connected (connection %d)", self.stream.connects)
        self._updates.append(Reconnected(self.stream.connects))
        self.io.wake()

    # ---- Broker interface -----------------------------------------------------------------------
    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        return self._call(self._submit(intent), f"submit {intent.client_order_id}")

    async def _submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        self._correlation[intent.client_order_id] = intent.correlation_id
        try:
            order = await self.rest.submit_order(order_payload(intent))
        except OrderRejected as exc:
            return [OrderUpdate(
                client_order_id=intent.client_order_id, broker_order_id="", symbol=intent.symbol,
                side=intent.side, status="rejected", qty=intent.qty, filled_qty=Decimal(0),
                ts_ns=time.time_ns(), correlation_id=intent.correlation_id, reason=str(exc),
            )]
        return [_require(order_to_update(order, intent.correlation_id))]

    def cancel(self, client_order_id: str) -> list[OrderUpdate]:
        """DELETE returns 204 and the outcome arrives on trade_updates (poll), as at Alpaca."""
        return self._call(self._cancel(client_order_id), f"cancel {client_order_id}")

    async def _cancel(self, client_order_id: str) -> list[OrderUpdate]:
        order = await self.rest.order_by_client_id(client_order_id)
        if order is not None:
            await self.rest.cancel(order["id"])
        return []

    def cancel_all(self) -> list[OrderUpdate]:
        self._call(self.rest.cancel_all(), "cancel all")
        return []

    def on_market(self, items: Sequence[MarketItem]) -> list[OrderUpdate]:
        return []

    def poll(self) -> list[Polled]:
        """Give the stream a pass on the loop, then hand over what it delivered."""
        if self._session is not None and not self.io.closed:
            self.io.service()
        drained: list[Polled] = []
        while self._updates:
            drained.append(self._updates.popleft())
        return drained

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        return self._call(self._get_order(client_order_id), f"get order {client_order_id}")

    async def _get_order(self, client_order_id: str) -> OrderUpdate | None:
        order = await self.rest.order_by_client_id(client_order_id)
        if order is None:
            return None
        return _require(order_to_update(order, self._correlation.get(client_order_id, "")))

    def open_orders(self) -> list[OrderUpdate]:
        orders = self._call(self.rest.list_orders("open"), "list open orders")
        updates = (order_to_update(o, self._correlation.get(o["client_order_id"], "")) for o in orders)
        return [u for u in updates if u is not None]

    def snapshot(self) -> BrokerSnapshot | None:
        return self._call(read_snapshot(self.rest), "snapshot")

    def error_counts(self) -> Mapping[tuple[str, str], int]:
        return dict(self.rest.error_counts) if self._session is not None else {}

    # ---- account views (not part of Broker) ---------------------------------------------------
    def account(self) -> dict[str, Any]:
        return self._call(self.rest.account(), "account")

    def positions(self) -> list[dict[str, Any]]:
        return self._call(self.rest.positions(), "positions")

    def clock(self) -> dict[str, Any]:
        return self._call(self.rest.clock(), "clock")


def _require(update: OrderUpdate | None) -> OrderUpdate:
    if update is None:
        raise TemporaryError("broker reported an order status the cluster does not model yet")
    return update
