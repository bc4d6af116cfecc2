"""The simulator's state in one place: replay clock, matching engine and the two stream hubs.

Handlers call these methods; every engine result is published on trade_updates here, so no
handler can forget to.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from alpaca_sim.config import SimConfig
from alpaca_sim.data import BarEvent, MarketEvent, load_timeline
from alpaca_sim.models import CODE_NOT_FOUND, OrderRequest, SimRejection, order_json
from alpaca_sim.orders import MatchingEngine
from alpaca_sim.replay import Replay
from alpaca_sim.stream import MarketData, StreamHub, TradeUpdates


class SimCore:
    def __init__(self, config: SimConfig, events: list[MarketEvent] | None = None) -> None:
        self.config = config
        timeline = events if events is not None else load_timeline(Path(p) for p in config.data_files)
        self.replay = Replay(timeline, config.start)
        self.engine = MatchingEngine(config.initial_cash, allow_short=config.allow_short)
        self.account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"account:{config.key_id}"))
        self.trade_updates = TradeUpdates(StreamHub(config.max_queued_frames), self.keys_valid)
        self.market_data = MarketData(StreamHub(config.max_queued_frames), self.keys_valid, config.auth_timeout_s)
        self.bars: dict[str, list[BarEvent]] = defaultdict(list)
        for event in timeline:
            if isinstance(event, BarEvent):
                self.bars[event.symbol].append(event)
        self.reject_auth = False

    def keys_valid(self, key: str, secret: str) -> bool:
        return not self.reject_auth and key == self.config.key_id and secret == self.config.secret_key

    def submit(self, request: OrderRequest) -> dict[str, Any]:
        snapshot, executions = self.engine.submit(request, self.replay.now_ns)
        self.trade_updates.publish(executions)
        return snapshot

    def cancel(self, order_id: str) -> None:
        self.trade_updates.publish(self.engine.cancel(order_id, self.replay.now_ns))

    def cancel_all(self) -> list[dict[str, Any]]:
        results = []
        for order in self.engine.open_orders():
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
        return self._release(self.replay.step(groups))

    def advance_to(self, ts_ns: int) -> int:
        return self._release(self.replay.advance_to(ts_ns))

    def _release(self, groups: list[list[MarketEvent]]) -> int:
        released = 0
        for group in groups:
            now = self.replay.now_ns
            for event in group:
                self.trade_updates.publish(self.engine.on_market(event, now))
            self.market_data.publish(group)
            released += len(group)
        return released
