"""The simulator's state in one place: replay clock, matching engine, assets and the stream hubs.

Handlers call these methods; every engine result is published on trade_updates here, so no
handler can forget to. Events released by one step carry their own publish times.
"""

from __future__ import annotations

import dataclasses
import hmac
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from alpaca_sim import replace as replacing
from alpaca_sim.assets import AssetBook
from alpaca_sim.config import SimConfig
from alpaca_sim.data import BarEvent, MarketEvent, QuoteEvent, TradeEvent, load_timeline
from alpaca_sim.hours import NyseHours
from alpaca_sim.models import CODE_NOT_FOUND, Execution, OrderRequest, SimRejection, order_json
from alpaca_sim.order_requests import ReplaceRequest
from alpaca_sim.orders import MatchingEngine
from alpaca_sim.replay import Replay
from alpaca_sim.stream import MarketData, StreamHub, TradeUpdates


class SimCore:
    def __init__(self, config: SimConfig, events: list[MarketEvent] | None = None) -> None:
        self.config = config
        timeline = events if events is not None else load_timeline(Path(p) for p in config.data_files)
        self.replay = Replay(timeline, config.start)
        margin = config.account_type == "margin"
        self.engine = MatchingEngine(
            config.initial_cash, allow_short=margin or config.allow_short,
            multiplier=config.multiplier if margin else 1, hours=NyseHours(),
        )
        self.account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"account:{config.key_id}"))
        self.trade_updates = TradeUpdates(StreamHub(config.max_queued_frames), self.keys_valid)
        self.market_data = MarketData(StreamHub(config.max_queued_frames), self.keys_valid, config.auth_timeout_s)
        self.bars: dict[str, list[BarEvent]] = defaultdict(list)
        self.quotes: dict[str, list[QuoteEvent]] = defaultdict(list)
        self.trades: dict[str, list[TradeEvent]] = defaultdict(list)
        for event in timeline:
            if isinstance(event, BarEvent):
                self.bars[event.symbol].append(event)
            elif isinstance(event, QuoteEvent):
                self.quotes[event.symbol].append(event)
            else:
                self.trades[event.symbol].append(event)
        self.assets = AssetBook(e.symbol for e in timeline)
        self.market_data.seed_daily([e for e in timeline if isinstance(e, BarEvent)
                                     and e.publish_ns < self.replay.now_ns])  # the replay skipped these
        self.reject_auth = False
        self.equity_marks: list[tuple[int, Decimal]] = [(self.replay.now_ns, config.initial_cash)]

    def equity(self) -> Decimal:
        return self.engine.cash + sum((p.qty * p.last_price for p in self.engine.positions.values()), Decimal(0))

    def keys_match(self, key: str, secret: str) -> bool:
        """Constant-time comparison of both keys (as bytes, so any character compares, no early exit)."""
        key_ok = hmac.compare_digest(_utf8(key), _utf8(self.config.key_id))
        secret_ok = hmac.compare_digest(_utf8(secret), _utf8(self.config.secret_key))
        return key_ok & secret_ok

    def keys_valid(self, key: str, secret: str) -> bool:
        return self.keys_match(key, secret) and not self.reject_auth

    def submit(self, request: OrderRequest) -> dict[str, Any]:
        asset = self.assets.for_order(request.symbol)
        if asset.symbol != request.symbol:
            request = dataclasses.replace(request, symbol=asset.symbol)
        snapshot, executions = self.engine.submit(request, self.replay.now_ns)
        self.trade_updates.publish(executions)
        return snapshot

    def replace(self, order_id: str, request: ReplaceRequest) -> dict[str, Any]:
        snapshot, executions = replacing.replace(self.engine, order_id, request, self.replay.now_ns)
        self.trade_updates.publish(executions)
        return snapshot

    def cancel(self, order_id: str) -> None:
        self.trade_updates.publish(self.engine.cancel(order_id, self.replay.now_ns))

    def cancel_all(self) -> list[dict[str, Any]]:
        results = []
        for order in self.engine.open_orders():
            if order.is_open:  # canceling an entry cancels its legs on the way
                self.cancel(order.id)
                results.append({"id": order.id, "status": 200, "body": order_json(order)})
        return results

    def position_symbol(self, raw: str) -> str:
        """Positions are addressed as AAPL, BTCUSD or BTC/USD (or by asset id)."""
        for symbol, position in self.engine.positions.items():
            if raw in (symbol, symbol.replace("/", ""), position.asset_id):
                return symbol
        raise SimRejection(404, CODE_NOT_FOUND, "position does not exist")

    def step(self, groups: int) -> int:
        """Advance the replay by `groups` publish times; returns the number of events released."""
        released = self._release(self.replay.step(groups))
        self.trade_updates.publish(self.engine.expire(self.replay.now_ns))
        return released

    def advance_to(self, ts_ns: int) -> int:
        released = self._release(self.replay.advance_to(ts_ns))
        self.trade_updates.publish(self.engine.expire(self.replay.now_ns))
        return released

    def _release(self, groups: list[list[MarketEvent]]) -> int:
        released = 0
        for group in groups:
            now = group[0].publish_ns
            executions: list[Execution] = []
            for event in group:
                executions.extend(self.engine.on_market(event, now))
            self.trade_updates.publish(executions)
            self.market_data.publish(group)
            self.equity_marks.append((now, self.equity()))  # portfolio history, marked to market
            released += len(group)
        return released


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
