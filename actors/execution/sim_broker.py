"""In-process simulated broker for replay and backtests: deterministic fills from market data.

Rules, chosen to be simple, pessimistic where it matters, and the same on every run:

* An order can only trade on a market event of its symbol strictly after the order's ts_ns, so a
  signal never fills on the bar it was computed from.
* Bar: a market order fills its whole quantity at the bar's open (bar volume is not checked).
* Quote: a market buy fills at the ask, a sell at the bid, at most the quoted size; the rest
  waits for the next event. Trade: like a quote, at the trade price and size.
* Limit: fills at the limit or better. If the first price of the event (open, ask/bid, trade)
  already crosses, the fill is at that price plus slippage, capped at the limit; if only the
  bar's low (buy) or high (sell) crosses, the fill is at the limit.
* Stop: triggers when the price reaches the stop (a buy on the bar's high or the ask, a sell on
  the bar's low or the bid), then fills as a market order on the same event, at the first price
  if it gapped through the stop, else at the stop; slippage applies.
* Stop-limit: triggers like a stop; it may fill on the triggering event only if the trigger was
  the event's first price, and from the next event on it is a limit order.
* Slippage moves market and stop prices against the order by slippage_bps. Prices are rounded to
  4 decimals (half-even).
* Commission per order = max(commission_min, commission_per_share x filled qty); each fill
  carries the part that fill adds, so the minimum is charged once per order, not per fill.
* Time in force: "day" expires on the first event of its symbol at or after the next midnight
  America/New_York after the order's ts_ns (extended hours count as the same day); "ioc" works
  only against the first eligible event, and what it leaves is canceled at once; "gtc" lasts.
* Ids derive from the client_order_id (uuid5), so two runs produce identical updates.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import msgspec

from actors.execution.broker import BrokerSnapshot, MarketItem, Polled
from cluster.foundation.domain.ids import MAX_CLIENT_ORDER_ID
from cluster.foundation.domain.orders import is_terminal_status, price_decimal
from cluster.foundation.domain.wire import Bar, OrderIntent, OrderStatus, OrderUpdate, Quote

_ID_NAMESPACE = uuid.UUID("6f1d3c1e-5a0b-4d7e-9c2a-3b8e4f5a6d71")
_PRICE_STEP = Decimal("0.0001")
_BPS = Decimal(10_000)
_ZERO = Decimal(0)
_DAY_ZONE = ZoneInfo("America/New_York")


def to_price(value: float) -> Decimal:
    """Float market price to Decimal without binary noise (167.43 stays 167.43)."""
    return price_decimal(value)


def round_price(value: Decimal) -> Decimal:
    return value.quantize(_PRICE_STEP, rounding=ROUND_HALF_EVEN)


def next_trading_day_start_ns(ts_ns: int) -> int:
    """Midnight America/New_York after ts_ns, in UTC ns: where a day order expires."""
    local = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=_DAY_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=_DAY_ZONE)
    return int(midnight.timestamp()) * 1_000_000_000


@dataclass(frozen=True, slots=True)
class _Touch:
    """What one event offers an order of one side: first price, best and worst price, size."""

    first: Decimal
    best: Decimal
    worst: Decimal
    size: Decimal | None  # None: no size limit (bars)


def _touch(item: MarketItem, side: str) -> _Touch:
    buy = side == "buy"
    if isinstance(item, Bar):
        first = to_price(item.open)
        low, high = to_price(item.low), to_price(item.high)
        return _Touch(first, low if buy else high, high if buy else low, None)
    if isinstance(item, Quote):
        price = to_price(item.ask if buy else item.bid)
        size = to_price(item.ask_size if buy else item.bid_size)
        return _Touch(price, price, price, size)
    price = to_price(item.price)
    return _Touch(price, price, price, to_price(item.size))


@dataclass(slots=True)
class _SimOrder:
    intent: OrderIntent
    broker_order_id: str
    expires_at_ns: int | None
    status: OrderStatus = "new"
    filled_qty: Decimal = _ZERO
    notional: Decimal = _ZERO
    commission: Decimal = _ZERO
    fill_count: int = 0
    triggered: bool = False
    last: OrderUpdate | None = field(default=None)

    @property
    def remaining(self) -> Decimal:
        return self.intent.qty - self.filled_qty


class SimBroker:
    """Deterministic broker over market data; implements actors.execution.broker.Broker."""

    def __init__(
        self,
        slippage_bps: Decimal = _ZERO,
        commission_per_share: Decimal = _ZERO,
        commission_min: Decimal = _ZERO,
    ) -> None:
        self._slip = Decimal(slippage_bps) / _BPS
        self._per_share = Decimal(commission_per_share)
        self._commission_min = Decimal(commission_min)
        self._orders: dict[str, _SimOrder] = {}
        self._open_by_symbol: dict[str, list[str]] = {}
        self._last_ts_ns = 0

    # ---------------------------------------------------------------- Broker interface

    def submit(self, intent: OrderIntent) -> list[OrderUpdate]:
        existing = self._orders.get(intent.client_order_id)
        if existing is not None and existing.last is not None:
            return [existing.last]
        expires = next_trading_day_start_ns(intent.ts_ns) if intent.time_in_force == "day" else None
        order = _SimOrder(intent, self._id(f"order/{intent.client_order_id}"), expires)
        self._orders[intent.client_order_id] = order
        problem = _validation_problem(intent)
        if problem:
            return [self._emit(order, "rejected", intent.ts_ns, reason=problem)]
        self._open_by_symbol.setdefault(intent.symbol, []).append(intent.client_order_id)
        return [self._emit(order, "new", intent.ts_ns)]

    def cancel(self, client_order_id: str) -> list[OrderUpdate]:
        order = self._orders.get(client_order_id)
        if order is None or is_terminal_status(order.status):
            return []
        ts_ns = max(order.intent.ts_ns, self._last_ts_ns)
        return [self._close(order, "canceled", ts_ns, "canceled on request")]

    def replace(self, client_order_id: str, new_client_order_id: str) -> list[OrderUpdate]:
        """Alpaca's PATCH: the old order ends `replaced`, a new order works its remaining quantity under a new id."""
        order = self._orders.get(client_order_id)
        if order is None or is_terminal_status(order.status) or new_client_order_id in self._orders:
            return []
        ts_ns = max(order.intent.ts_ns, self._last_ts_ns)
        remaining = order.remaining
        old = self._close(order, "replaced", ts_ns, f"replaced by {new_client_order_id}")
        successor = msgspec.structs.replace(order.intent, client_order_id=new_client_order_id, qty=remaining, ts_ns=ts_ns)
        return [old, *self.submit(successor)]

    def cancel_all(self) -> list[OrderUpdate]:
        updates: list[OrderUpdate] = []
        for coids in list(self._open_by_symbol.values()):
            for coid in list(coids):
                updates.extend(self.cancel(coid))
        return updates

    def on_market(self, items: Sequence[MarketItem]) -> list[OrderUpdate]:
        updates: list[OrderUpdate] = []
        for item in items:
            self._last_ts_ns = max(self._last_ts_ns, item.ts_ns)
            coids = self._open_by_symbol.get(item.symbol)
            if not coids:
                continue
            touches: dict[str, _Touch] = {}  # per side, built once per event, not per order
            for coid in list(coids):
                order = self._orders[coid]
                if item.ts_ns > order.intent.ts_ns:
                    side = order.intent.side
                    touch = touches.get(side) or touches.setdefault(side, _touch(item, side))
                    updates.extend(self._work(order, item, touch))
        return updates

    def poll(self) -> list[Polled]:
        return []

    def snapshot(self) -> BrokerSnapshot | None:
        return None  # its state lives in this process only: nothing to reconcile with

    def error_counts(self) -> Mapping[tuple[str, str], int]:
        return {}

    def close(self) -> None:
        return None

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        order = self._orders.get(client_order_id)
        return order.last if order is not None else None

    def open_orders(self) -> list[OrderUpdate]:
        return [
            last
            for coids in self._open_by_symbol.values()
            for coid in coids
            if (last := self._orders[coid].last) is not None
        ]

    # ---------------------------------------------------------------- matching

    def _work(self, order: _SimOrder, item: MarketItem, touch: _Touch) -> list[OrderUpdate]:
        if order.expires_at_ns is not None and item.ts_ns >= order.expires_at_ns:
            return [self._close(order, "expired", item.ts_ns, "day order expired")]
        updates: list[OrderUpdate] = []
        fill = self._match(order, touch)
        if fill is not None:
            updates.append(self._fill(order, fill[0], fill[1], item.ts_ns))
        if order.intent.time_in_force == "ioc" and not is_terminal_status(order.status):
            updates.append(self._close(order, "canceled", item.ts_ns, "ioc: unfilled remainder canceled"))
        return updates

    def _match(self, order: _SimOrder, touch: _Touch) -> tuple[Decimal, Decimal] | None:
        """(price, qty) this event fills for the order, or None."""
        intent = order.intent
        qty = order.remaining if touch.size is None else min(order.remaining, touch.size)
        if qty <= 0 or touch.first <= 0:
            return None  # nothing offered, or a one-sided / empty quote
        buy = intent.side == "buy"
        if intent.order_type == "market":
            return self._slipped(touch.first, buy), qty
        if intent.order_type == "limit":
            price = self._limit_price(touch, intent.limit_price, buy, intrabar=True)
            return None if price is None else (price, qty)
        stop = intent.stop_price
        assert stop is not None  # checked at submit
        if not order.triggered:
            if not (touch.worst >= stop if buy else touch.worst <= stop):
                return None
            order.triggered = True
            gapped = touch.first >= stop if buy else touch.first <= stop
            if intent.order_type == "stop":
                return self._slipped(touch.first if gapped else stop, buy), qty
            if not gapped:
                return None  # stop-limit triggered inside the bar: a limit order from the next event
            price = self._limit_price(touch, intent.limit_price, buy, intrabar=False)
            return None if price is None else (price, qty)
        if intent.order_type == "stop":
            return self._slipped(touch.first, buy), qty
        price = self._limit_price(touch, intent.limit_price, buy, intrabar=True)
        return None if price is None else (price, qty)

    def _limit_price(self, touch: _Touch, limit: Decimal | None, buy: bool, intrabar: bool) -> Decimal | None:
        assert limit is not None  # checked at submit
        if buy:
            if touch.first <= limit:
                return min(limit, self._slipped(touch.first, buy))
            return limit if intrabar and touch.best <= limit else None
        if touch.first >= limit:
            return max(limit, self._slipped(touch.first, buy))
        return limit if intrabar and touch.best >= limit else None

    def _slipped(self, price: Decimal, buy: bool) -> Decimal:
        factor = 1 + self._slip if buy else 1 - self._slip
        return round_price(price * factor)

    # ---------------------------------------------------------------- updates

    def _fill(self, order: _SimOrder, price: Decimal, qty: Decimal, ts_ns: int) -> OrderUpdate:
        order.filled_qty += qty
        order.notional += price * qty
        order.fill_count += 1
        due = max(self._commission_min, self._per_share * order.filled_qty).quantize(_PRICE_STEP)
        commission = due - order.commission
        order.commission = due
        status: OrderStatus = "filled" if order.remaining <= 0 else "partially_filled"
        if status == "filled":
            self._remove_open(order)
        return self._emit(
            order,
            status,
            ts_ns,
            last_fill_qty=qty,
            last_fill_price=price,
            commission=commission,
            fill_id=self._id(f"fill/{order.intent.client_order_id}/{order.fill_count}"),
        )

    def _close(self, order: _SimOrder, status: OrderStatus, ts_ns: int, reason: str) -> OrderUpdate:
        self._remove_open(order)
        return self._emit(order, status, ts_ns, reason=reason)

    def _remove_open(self, order: _SimOrder) -> None:
        coids = self._open_by_symbol.get(order.intent.symbol, [])
        if order.intent.client_order_id in coids:
            coids.remove(order.intent.client_order_id)

    def _emit(
        self,
        order: _SimOrder,
        status: OrderStatus,
        ts_ns: int,
        *,
        last_fill_qty: Decimal = _ZERO,
        last_fill_price: Decimal | None = None,
        commission: Decimal = _ZERO,
        fill_id: str = "",
        reason: str = "",
    ) -> OrderUpdate:
        order.status = status
        intent = order.intent
        avg = round_price(order.notional / order.filled_qty) if order.filled_qty else None
        order.last = OrderUpdate(
            client_order_id=intent.client_order_id,
            broker_order_id=order.broker_order_id,
            symbol=intent.symbol,
            side=intent.side,
            status=status,
            qty=intent.qty,
            filled_qty=order.filled_qty,
            ts_ns=ts_ns,
            correlation_id=intent.correlation_id,
            filled_avg_price=avg,
            last_fill_qty=last_fill_qty,
            last_fill_price=last_fill_price,
            commission=commission,
            fill_id=fill_id,
            reason=reason,
        )
        return order.last

    @staticmethod
    def _id(name: str) -> str:
        return str(uuid.uuid5(_ID_NAMESPACE, name))


def _validation_problem(intent: OrderIntent) -> str:
    """Why the broker refuses this order, or "" if it accepts it."""
    if not 0 < len(intent.client_order_id) <= MAX_CLIENT_ORDER_ID:
        return f"client_order_id must be 1 to {MAX_CLIENT_ORDER_ID} characters, got {len(intent.client_order_id)}"
    if intent.qty <= 0:
        return f"qty must be positive, got {intent.qty}"
    needs_limit = intent.order_type in ("limit", "stop_limit")
    needs_stop = intent.order_type in ("stop", "stop_limit")
    if needs_limit and (intent.limit_price is None or intent.limit_price <= 0):
        return f"{intent.order_type} order needs a positive limit_price"
    if needs_stop and (intent.stop_price is None or intent.stop_price <= 0):
        return f"{intent.order_type} order needs a positive stop_price"
    return ""
