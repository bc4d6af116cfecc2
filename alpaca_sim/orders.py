"""Matching engine: orders fill against the replayed quotes (or bars/trades when no quote exists).

Pure and synchronous: time comes in with every call, ids from an injected factory. Every change
is returned as an Execution (a trade_updates event) for the server to publish.

Fill rules (one pass per market event, FIFO over open orders):
* buy at the ask up to the ask size, sell at the bid up to the bid size; bars and trade prints
  offer their close/price up to their volume/size. Size beyond what is offered stays open, so a
  large order fills in several `partial_fill` events.
* limit: only when the offered price is at or better than the limit; fills at the offered price.
* stop / stop_limit: trigger when the offered price reaches the stop, then act as market / limit.
* ioc: whatever does not fill against the quote at submission is canceled; day: expires when the
  New York date changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from alpaca_sim.data import BarEvent, MarketEvent, QuoteEvent, TradeEvent
from alpaca_sim.models import (
    CODE_FORBIDDEN,
    CODE_NOT_CANCELABLE,
    CODE_NOT_FOUND,
    CODE_VALIDATION,
    OrderRequest,
    SimOrder,
    SimPosition,
    SimRejection,
    order_json,
)
from alpaca_sim.timefmt import NEW_YORK


@dataclass(frozen=True, slots=True)
class Execution:
    """One trade_updates event: the order as it is after the event."""

    event: str
    order: dict[str, Any]
    ts_ns: int
    execution_id: str | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None


@dataclass(slots=True)
class _Offer:
    """Liquidity one market event offers on each side, consumed as orders fill."""

    buy_price: Decimal
    buy_size: Decimal
    sell_price: Decimal
    sell_size: Decimal


class MatchingEngine:
    def __init__(
        self,
        initial_cash: Decimal,
        *,
        allow_short: bool = False,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.cash = initial_cash
        self.allow_short = allow_short
        self._new_id = new_id
        self.orders: dict[str, SimOrder] = {}
        self._by_client_id: dict[str, str] = {}
        self.positions: dict[str, SimPosition] = {}
        self._asset_ids: dict[str, str] = {}
        self._offers: dict[str, _Offer] = {}
        self.last_price: dict[str, Decimal] = {}

    # ---- queries -------------------------------------------------------------------------
    def order(self, order_id: str) -> SimOrder:
        found = self.orders.get(order_id)
        if found is None:
            raise SimRejection(404, CODE_NOT_FOUND, "order not found")
        return found

    def order_by_client_id(self, client_order_id: str) -> SimOrder:
        order_id = self._by_client_id.get(client_order_id)
        if order_id is None:
            raise SimRejection(404, CODE_NOT_FOUND, "order not found")
        return self.orders[order_id]

    def buying_power(self) -> Decimal:
        reserved = sum(
            (o.remaining * self._reference_price(o) for o in self.orders.values() if o.is_open and o.side == "buy"),
            Decimal(0),
        )
        return self.cash - reserved

    def asset_id(self, symbol: str) -> str:
        return self._asset_ids.setdefault(symbol, str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}")))

    # ---- commands ------------------------------------------------------------------------
    def submit(self, request: OrderRequest, now_ns: int) -> tuple[dict[str, Any], list[Execution]]:
        """Accept an order: the snapshot answered by POST, then the events (new, fills, cancel)."""
        cid = request.client_order_id or str(uuid.uuid4())
        if cid in self._by_client_id:
            raise SimRejection(422, CODE_VALIDATION, "client_order_id must be unique")
        self._check_funds(request)
        order = SimOrder(
            id=self._new_id(), client_order_id=cid, symbol=request.symbol, asset_id=self.asset_id(request.symbol),
            qty=request.qty, side=request.side, order_type=request.order_type,
            time_in_force=request.time_in_force, limit_price=request.limit_price,
            stop_price=request.stop_price, created_ns=now_ns, updated_ns=now_ns,
        )
        self.orders[order.id] = order
        self._by_client_id[cid] = order.id
        snapshot = order_json(order)
        executions = [Execution("new", snapshot, now_ns)]
        offer = self._offers.get(order.symbol)
        if offer is not None:
            executions.extend(self._match(order, offer, now_ns))
        if order.time_in_force == "ioc" and order.is_open:
            executions.append(self._close(order, "canceled", now_ns))
        return snapshot, executions

    def cancel(self, order_id: str, now_ns: int) -> list[Execution]:
        order = self.order(order_id)
        if not order.is_open:
            raise SimRejection(422, CODE_NOT_CANCELABLE, "order is not cancelable")
        return [self._close(order, "canceled", now_ns)]

    def open_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_open]

    def on_market(self, event: MarketEvent, now_ns: int) -> list[Execution]:
        """Feed one replayed event: expire stale day orders, refresh the offer, match open orders."""
        executions = self._expire_day_orders(now_ns)
        offer = self._offer_from(event)
        if offer is None:
            return executions
        for order in [o for o in self.orders.values() if o.is_open and o.symbol == event.symbol]:
            executions.extend(self._match(order, offer, now_ns))
        return executions

    # ---- internals -----------------------------------------------------------------------
    def _offer_from(self, event: MarketEvent) -> _Offer | None:
        if isinstance(event, QuoteEvent):
            bid, ask = Decimal(str(event.bid)), Decimal(str(event.ask))
            if bid > 0 and ask > 0:
                self.last_price[event.symbol] = (bid + ask) / 2
            offer = _Offer(ask, Decimal(str(event.ask_size)), bid, Decimal(str(event.bid_size)))
            self._offers[event.symbol] = offer
            self._mark(event.symbol)
            return _Offer(offer.buy_price, offer.buy_size, offer.sell_price, offer.sell_size)
        price, size = (
            (event.close, event.volume) if isinstance(event, BarEvent) else (event.price, event.size)
        )
        assert isinstance(event, BarEvent | TradeEvent)
        self.last_price[event.symbol] = Decimal(str(price))
        self._mark(event.symbol)
        if event.symbol in self._offers:
            return None  # quotes drive this symbol
        px, qty = Decimal(str(price)), Decimal(str(size))
        return _Offer(px, qty, px, qty)

    def _mark(self, symbol: str) -> None:
        position = self.positions.get(symbol)
        if position is not None:
            position.last_price = self.last_price[symbol]

    def _match(self, order: SimOrder, offer: _Offer, now_ns: int) -> list[Execution]:
        buying = order.side == "buy"
        price = offer.buy_price if buying else offer.sell_price
        size = offer.buy_size if buying else offer.sell_size
        if price <= 0 or size <= 0:
            return []
        if order.stop_price is not None and not order.stop_triggered:
            reached = price >= order.stop_price if buying else price <= order.stop_price
            if not reached:
                return []
            order.stop_triggered = True
        if order.limit_price is not None and (price > order.limit_price if buying else price < order.limit_price):
            return []
        qty = min(order.remaining, size)
        if buying:
            offer.buy_size -= qty
        else:
            offer.sell_size -= qty
        return [self._fill(order, qty, price, now_ns)]

    def _fill(self, order: SimOrder, qty: Decimal, price: Decimal, now_ns: int) -> Execution:
        order.filled_qty += qty
        order.filled_notional += qty * price
        order.updated_ns = now_ns
        done = order.remaining == 0
        order.status = "filled" if done else "partially_filled"
        if done:
            order.filled_ns = now_ns
        signed = qty if order.side == "buy" else -qty
        self.cash -= signed * price
        position = self._apply_to_position(order.symbol, signed, price)
        return Execution(
            "fill" if done else "partial_fill", order_json(order), now_ns,
            execution_id=self._new_id(), price=price, qty=qty, position_qty=position.qty,
        )

    def _apply_to_position(self, symbol: str, signed: Decimal, price: Decimal) -> SimPosition:
        position = self.positions.setdefault(symbol, SimPosition(symbol, self.asset_id(symbol)))
        old = position.qty
        new = old + signed
        if old == 0 or (old > 0) != (new > 0) and new != 0:
            position.avg_entry_price = price
        elif abs(new) > abs(old):
            position.avg_entry_price = (old * position.avg_entry_price + signed * price) / new
        position.qty = new
        position.last_price = self.last_price.get(symbol, price)
        if new == 0:
            del self.positions[symbol]
        return position

    def _close(self, order: SimOrder, status: str, now_ns: int) -> Execution:
        order.status = status
        order.updated_ns = now_ns
        if status == "canceled":
            order.canceled_ns = now_ns
        else:
            order.expired_ns = now_ns
        return Execution(status, order_json(order), now_ns)

    def _expire_day_orders(self, now_ns: int) -> list[Execution]:
        today = _new_york_date(now_ns)
        stale = [
            o for o in self.orders.values()
            if o.is_open and o.time_in_force == "day" and _new_york_date(o.created_ns) != today
        ]
        return [self._close(o, "expired", now_ns) for o in stale]

    def _reference_price(self, order: SimOrder | OrderRequest) -> Decimal:
        offer = self._offers.get(order.symbol)
        market = offer.buy_price if offer is not None else self.last_price.get(order.symbol, Decimal(0))
        return order.limit_price or order.stop_price or market

    def _check_funds(self, request: OrderRequest) -> None:
        if request.side == "buy":
            cost = request.qty * self._reference_price(request)
            power = self.buying_power()
            if cost > power:
                raise SimRejection(
                    403, CODE_FORBIDDEN, "insufficient buying power",
                    buying_power=format(power, "f"), cost_basis=format(cost, "f"),
                )
            return
        if self.allow_short:
            return
        held = sum(
            (o.remaining for o in self.orders.values() if o.is_open and o.side == "sell" and o.symbol == request.symbol),
            Decimal(0),
        )
        position = self.positions.get(request.symbol)
        existing = position.qty if position is not None else Decimal(0)
        available = existing - held
        if request.qty > available:
            raise SimRejection(
                403, CODE_FORBIDDEN,
                f"insufficient qty available for order (requested: {request.qty}, available: {available})",
                available=format(available, "f"), existing_qty=format(existing, "f"),
                held_for_orders=format(held, "f"), symbol=request.symbol,
            )


def _new_york_date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).astimezone(NEW_YORK).date().isoformat()
