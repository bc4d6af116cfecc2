"""Matching engine: orders fill against the replayed quotes (or bars/trades when no quote exists).

Pure and synchronous: time comes in with every call, ids from an injected factory, trading hours
from an injected MarketHours (the simulator passes the NYSE calendar). Every change is returned
as an Execution (a trade_updates event) for the server to publish.

Fill rules (one pass per market event, FIFO over open orders):
* buy at the ask up to the ask size, sell at the bid up to the bid size; bars and trade prints
  offer their close/price up to their volume/size. Size beyond what is offered stays open, so a
  large order fills in several `partial_fill` events.
* limit: only when the offered price is at or better than the limit; fills at the offered price.
* stop / stop_limit: trigger when the offered price reaches the stop, then act as market / limit.
* trailing_stop: the stop follows the best price since submission (the high-water mark for a
  sell, the low for a buy) by trail_price or trail_percent, then acts as a market order.
* notional: the dollar amount buys or sells (amount / first fill price) shares, 9 decimals down.
* equities fill in the regular session only, unless the order is an extended-hours limit order;
  crypto trades around the clock.
* ioc: whatever does not fill at submission is canceled; fok: all at submission or nothing;
  day: expires at the close of its session (see MarketHours).
* bracket/oto legs are `held` until the entry fills; when one leg of a bracket/oco fills, the
  other is canceled (legs: alpaca_sim.legs).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from alpaca_sim import legs
from alpaca_sim.account import Balances, balances
from alpaca_sim.data import BarEvent, MarketEvent, QuoteEvent, TradeEvent, is_crypto
from alpaca_sim.hours import AlwaysOpen, MarketHours
from alpaca_sim.models import (
    CODE_FORBIDDEN,
    CODE_NOT_CANCELABLE,
    CODE_NOT_FOUND,
    CODE_VALIDATION,
    Execution,
    OrderRequest,
    SimOrder,
    SimPosition,
    SimRejection,
    order_json,
)
from alpaca_sim.trailing import notional_qty, trail_to


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
        multiplier: int = 1,
        hours: MarketHours | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.cash = initial_cash
        self.allow_short = allow_short
        self.multiplier = multiplier
        self.hours: MarketHours = hours or AlwaysOpen()
        self.new_id = new_id
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

    def legs_of(self, order: SimOrder) -> list[SimOrder]:
        return [self.orders[i] for i in order.leg_ids]

    def snapshot(self, order: SimOrder) -> dict[str, Any]:
        return order_json(order, self.legs_of(order))

    def balances(self) -> Balances:
        holds = [(o.symbol, self.held_by(o)) for o in self.orders.values()
                 if o.is_open and o.status != "held" and self._holds_funds(o)]
        return balances(self.cash, list(self.positions.values()), holds, self.multiplier)

    def held_by(self, order: SimOrder) -> Decimal:
        """Buying power an open order holds: its remaining value at its limit/stop or the market."""
        if order.notional is not None and order.qty == 0:
            return order.notional
        return order.remaining * self._reference_price(order)

    def buying_power(self) -> Decimal:
        return self.balances().buying_power

    def asset_id(self, symbol: str) -> str:
        return self._asset_ids.setdefault(symbol, str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}")))

    def open_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_open]

    def held_for_orders(self, symbol: str) -> Decimal:
        """Quantity of the position that working orders on the closing side would take (capped at it)."""
        position = self.positions.get(symbol)
        if position is None:
            return Decimal(0)
        closing = "sell" if position.qty > 0 else "buy"
        working = sum((o.remaining for o in self.orders.values() if o.symbol == symbol and o.side == closing
                       and o.is_open and o.status != "held"), Decimal(0))
        return min(working, abs(position.qty))

    def client_id_taken(self, client_order_id: str) -> bool:
        return client_order_id in self._by_client_id

    # ---- commands ------------------------------------------------------------------------
    def submit(self, request: OrderRequest, now_ns: int) -> tuple[dict[str, Any], list[Execution]]:
        """Accept an order: the order as accepted (what POST answers, like Alpaca, before any fill),
        then its events (new, fills, cancels) for the stream."""
        cid = request.client_order_id or str(uuid.uuid4())
        if cid in self._by_client_id:
            raise SimRejection(422, CODE_VALIDATION, "client_order_id must be unique")
        if request.order_class != "simple":
            legs.check_prices(request, self._market_price(request.symbol, request.side))
        price = self._request_price(request)
        qty = request.qty
        if request.notional is not None:
            qty = request.notional / price if price > 0 else Decimal(0)
        self.check_funds(request.symbol, request.side, qty, price)
        order = SimOrder(
            id=self.new_id(), client_order_id=cid, symbol=request.symbol, asset_id=self.asset_id(request.symbol),
            qty=request.qty, side=request.side, order_type=request.order_type,
            time_in_force=request.time_in_force, limit_price=request.limit_price,
            stop_price=request.stop_price, created_ns=now_ns, updated_ns=now_ns,
            extended_hours=request.extended_hours,
            order_class="" if request.order_class == "simple" else request.order_class,
            notional=request.notional, trail_price=request.trail_price, trail_percent=request.trail_percent,
        )
        if order.order_type == "trailing_stop":
            market = self._market_price(order.symbol, "sell" if order.side == "sell" else "buy")
            if market is not None:
                trail_to(order, market)
        self.expiry(order, now_ns)
        self.add(order)
        children = legs.build(self, request, order, now_ns)
        accepted = self.snapshot(order)
        executions = [Execution("new", accepted, now_ns)]
        executions.extend(Execution("new", order_json(c), now_ns) for c in children if c.status == "new")
        executions.extend(self.match_now(order, now_ns))
        for child in children:
            if child.is_open and child.status != "held":
                executions.extend(self.match_now(child, now_ns))
        return accepted, executions

    def add(self, order: SimOrder) -> None:
        self.orders[order.id] = order
        self._by_client_id[order.client_order_id] = order.id

    def expiry(self, order: SimOrder, now_ns: int) -> None:
        if order.time_in_force == "day" and not is_crypto(order.symbol):
            order.expires_ns = self.hours.day_order_expiry(now_ns, order.extended_hours)

    def match_now(self, order: SimOrder, now_ns: int) -> list[Execution]:
        """Match a just-accepted order against the standing offer; ioc/fok end here."""
        executions: list[Execution] = []
        offer = self._offers.get(order.symbol)
        tradable = self._tradable(order, now_ns)
        if order.time_in_force == "fok" and not (tradable and offer is not None and self._fillable(order, offer)):
            return [self.close(order, "canceled", now_ns)]
        if offer is not None and tradable:
            executions.extend(self._match(order, offer, now_ns))
        if order.time_in_force in ("ioc", "fok") and order.is_open:
            executions.append(self.close(order, "canceled", now_ns))
        return executions

    def cancel(self, order_id: str, now_ns: int) -> list[Execution]:
        order = self.order(order_id)
        if not order.is_open:
            raise SimRejection(422, CODE_NOT_CANCELABLE, "order is not cancelable")
        return [self.close(order, "canceled", now_ns), *legs.on_parent_closed(self, order, now_ns)]

    def expire(self, now_ns: int) -> list[Execution]:
        """Close every day order whose session ended at or before now (stamped at the close)."""
        executions: list[Execution] = []
        due = sorted((o for o in self.orders.values() if o.is_open and o.expires_ns is not None
                      and o.expires_ns <= now_ns), key=lambda o: (o.expires_ns or 0, o.created_ns))
        for order in due:
            if order.is_open:
                at = order.expires_ns or now_ns
                executions.append(self.close(order, "expired", at))
                executions.extend(legs.on_parent_closed(self, order, at))
        return executions

    def on_market(self, event: MarketEvent, now_ns: int) -> list[Execution]:
        """Feed one replayed event: expire stale day orders, refresh the offer, match open orders."""
        observed = event.ts_ns if isinstance(event, TradeEvent) else event.publish_ns - 1
        executions = self.expire(now_ns - 1)  # due at now: this event's minute may still fill them
        offer = self._offer_from(event)
        if offer is None:
            return executions
        for order in [o for o in self.orders.values() if o.is_open and o.symbol == event.symbol]:
            if order.is_open and order.status != "held" and self._tradable(order, observed):
                executions.extend(self._match(order, offer, now_ns))
        return executions

    def close(self, order: SimOrder, status: str, now_ns: int) -> Execution:
        order.status = status
        order.updated_ns = now_ns
        if status == "canceled":
            order.canceled_ns = now_ns
        elif status == "expired":
            order.expired_ns = now_ns
        return Execution(status, self.snapshot(order), now_ns)

    # ---- internals -----------------------------------------------------------------------
    def _tradable(self, order: SimOrder, ts_ns: int) -> bool:
        if is_crypto(order.symbol):
            return True
        return self.hours.is_extended(ts_ns) if order.extended_hours else self.hours.is_regular(ts_ns)

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

    @staticmethod
    def _stop_reached(order: SimOrder, price: Decimal) -> bool:
        assert order.stop_price is not None
        return price >= order.stop_price if order.side == "buy" else price <= order.stop_price

    def _price_ok(self, order: SimOrder, price: Decimal) -> bool:
        buying = order.side == "buy"
        if order.stop_price is not None and not order.stop_triggered and not self._stop_reached(order, price):
            return False
        return order.limit_price is None or (price <= order.limit_price if buying else price >= order.limit_price)

    def _fillable(self, order: SimOrder, offer: _Offer) -> bool:
        if order.notional is not None and order.qty == 0:
            return False  # fok takes qty orders only
        buying = order.side == "buy"
        price = offer.buy_price if buying else offer.sell_price
        size = offer.buy_size if buying else offer.sell_size
        return price > 0 and size >= order.remaining and self._price_ok(order, price)

    def _match(self, order: SimOrder, offer: _Offer, now_ns: int) -> list[Execution]:
        buying = order.side == "buy"
        price = offer.buy_price if buying else offer.sell_price
        size = offer.buy_size if buying else offer.sell_size
        if price <= 0 or size <= 0:
            return []
        if order.order_type == "trailing_stop" and not order.stop_triggered:
            trail_to(order, price)
        if order.notional is not None and order.qty == 0:
            order.qty = notional_qty(order.notional, price)
            if order.qty == 0:
                return []
        if order.stop_price is not None and not order.stop_triggered and self._stop_reached(order, price):
            order.stop_triggered = True
        if not self._price_ok(order, price):
            return []
        qty = min(order.remaining, size)
        if buying:
            offer.buy_size -= qty
        else:
            offer.sell_size -= qty
        return [self._fill(order, qty, price, now_ns), *legs.on_fill(self, order, now_ns)]

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
            "fill" if done else "partial_fill", self.snapshot(order), now_ns,
            execution_id=self.new_id(), price=price, qty=qty, position_qty=position.qty,
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

    def _market_price(self, symbol: str, side: str) -> Decimal | None:
        offer = self._offers.get(symbol)
        if offer is not None:
            return offer.buy_price if side == "buy" else offer.sell_price
        return self.last_price.get(symbol)

    def _request_price(self, request: OrderRequest) -> Decimal:
        market = self._market_price(request.symbol, "buy") or Decimal(0)
        return request.limit_price or request.stop_price or market

    def _reference_price(self, order: SimOrder) -> Decimal:
        market = self._market_price(order.symbol, "buy") or Decimal(0)
        return order.limit_price or order.stop_price or market

    def _holds_funds(self, order: SimOrder) -> bool:
        """Buys hold buying power; so do sells beyond the position (they open a short), except legs."""
        if order.side == "buy":
            return True
        if order.parent_id is not None:
            return False
        position = self.positions.get(order.symbol)
        return position is None or position.qty <= 0

    def check_funds(self, symbol: str, side: str, qty: Decimal, price: Decimal,
                    replacing: SimOrder | None = None) -> None:
        """403 like Alpaca: not enough buying power, or a sell beyond the position without shorting."""
        held_now = self.held_by(replacing) if replacing is not None and \
            replacing.status != "held" and self._holds_funds(replacing) else Decimal(0)
        if side == "buy":
            self._check_power(symbol, qty * price, held_now)
            return
        held = sum((o.remaining for o in self.orders.values() if o.is_open and o.side == "sell"
                    and o.symbol == symbol and o is not replacing and o.parent_id is None), Decimal(0))
        position = self.positions.get(symbol)
        existing = position.qty if position is not None else Decimal(0)
        available = max(existing, Decimal(0)) - held
        if qty <= available:
            return
        if not self.allow_short or is_crypto(symbol):
            raise SimRejection(
                403, CODE_FORBIDDEN,
                f"insufficient qty available for order (requested: {qty}, available: {available})",
                available=format(available, "f"), existing_qty=format(existing, "f"),
                held_for_orders=format(held, "f"), symbol=symbol,
            )
        self._check_power(symbol, (qty - max(available, Decimal(0))) * price, held_now)

    def _check_power(self, symbol: str, cost: Decimal, released: Decimal) -> None:
        state = self.balances()
        power = (state.non_marginable_buying_power if is_crypto(symbol) else state.buying_power) + released
        if cost > power:
            raise SimRejection(403, CODE_FORBIDDEN, "insufficient buying power",
                               buying_power=format(power, "f"), cost_basis=format(cost, "f"))
