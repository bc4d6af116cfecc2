"""The simulator's order and position records, the order request parser and their Alpaca JSON.

Alpaca sends every number as a string and accepts numbers or numeric strings on input, so the
records hold Decimals and the renderers turn them into strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from alpaca_sim.data import is_crypto
from alpaca_sim.timefmt import format_utc

OPEN_STATUSES = frozenset({"accepted", "pending_new", "new", "partially_filled", "pending_cancel", "held"})
CODE_VALIDATION = 40010001
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_NOT_CANCELABLE = 42210000
CODE_UNPROCESSABLE = 42210000  # Alpaca's code for a well-formed request it will not carry out


class SimRejection(Exception):
    """An Alpaca error response: HTTP status plus the JSON body {"code", "message", ...extra}."""

    def __init__(self, http_status: int, code: int, message: str, **extra: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body: dict[str, Any] = {"code": code, "message": message, **extra}


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


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    qty: Decimal
    side: str
    order_type: str
    time_in_force: str
    client_order_id: str | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    extended_hours: bool = False
    order_class: str = "simple"  # simple | bracket | oco | oto
    take_profit: Decimal | None = None  # take_profit.limit_price
    stop_loss: Decimal | None = None  # stop_loss.stop_price
    stop_loss_limit: Decimal | None = None  # stop_loss.limit_price (a stop-limit leg)
    notional: Decimal | None = None  # a dollar amount instead of qty (qty is then 0)
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None


@dataclass(slots=True)
class SimOrder:
    """Mutable on purpose: the simulator is the broker, it owns the order's life."""

    id: str
    client_order_id: str
    symbol: str
    asset_id: str
    qty: Decimal
    side: str
    order_type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    created_ns: int
    status: str = "new"
    updated_ns: int = 0
    filled_qty: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)
    stop_triggered: bool = False
    filled_ns: int | None = None
    canceled_ns: int | None = None
    expired_ns: int | None = None
    extended_hours: bool = False
    order_class: str = ""  # Alpaca answers "" for simple orders
    parent_id: str | None = None  # set on the legs of bracket/oco/oto orders
    leg_ids: list[str] = field(default_factory=list)
    expires_ns: int | None = None  # the close of a day order's session
    replaces: str | None = None
    replaced_by: str | None = None
    replaced_ns: int | None = None
    notional: Decimal | None = None  # qty stays 0 until the first fill prices it
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None  # trailing stops: best price since submission (high for sells, low for buys)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def filled_avg_price(self) -> Decimal | None:
        return None if self.filled_qty == 0 else self.filled_notional / self.filled_qty


@dataclass(slots=True)
class SimPosition:
    symbol: str
    asset_id: str
    qty: Decimal = Decimal(0)
    avg_entry_price: Decimal = Decimal(0)
    last_price: Decimal = Decimal(0)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _stamp(ts_ns: int | None) -> str | None:
    return None if ts_ns is None else format_utc(ts_ns)


def order_json(order: SimOrder, legs: list[SimOrder] | None = None) -> dict[str, Any]:
    """The Alpaca Order object (v2), numbers as strings, absent values as null; `legs` rolls the
    legs of a bracket/oco/oto order up under it (POST answers and `nested=true`)."""
    avg = order.filled_avg_price
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": format_utc(order.created_ns),
        "updated_at": format_utc(order.updated_ns or order.created_ns),
        "submitted_at": format_utc(order.created_ns),
        "filled_at": _stamp(order.filled_ns),
        "expired_at": _stamp(order.expired_ns),
        "expires_at": _stamp(order.expires_ns),
        "canceled_at": _stamp(order.canceled_ns),
        "failed_at": None,
        "replaced_at": _stamp(order.replaced_ns),
        "replaced_by": order.replaced_by,
        "replaces": order.replaces,
        "asset_id": order.asset_id,
        "symbol": order.symbol,
        "asset_class": "crypto" if is_crypto(order.symbol) else "us_equity",
        "notional": _text(order.notional),
        "qty": None if order.notional is not None else _text(order.qty),
        "filled_qty": _text(order.filled_qty),
        "filled_avg_price": None if avg is None else _text(avg.quantize(Decimal("0.000000001"))),
        "order_class": order.order_class,
        "order_type": order.order_type,
        "type": order.order_type,
        "side": order.side,
        "position_intent": None,
        "time_in_force": order.time_in_force,
        "limit_price": _text(order.limit_price),
        "stop_price": _text(order.stop_price),
        "status": order.status,
        "extended_hours": order.extended_hours,
        "legs": None if not legs else [order_json(leg) for leg in legs],
        "trail_percent": _text(order.trail_percent),
        "trail_price": _text(order.trail_price),
        "hwm": _text(order.hwm),
        "commission": "0",
    }


def position_json(position: SimPosition, held: Decimal = Decimal(0)) -> dict[str, Any]:
    """The Alpaca Position object; `exchange` must be one of Alpaca's enum values. `held` is the
    quantity open closing orders hold (qty_available is what is left)."""
    qty = position.qty
    cost_basis = abs(qty) * position.avg_entry_price
    market_value = qty * position.last_price
    unrealized = market_value - qty * position.avg_entry_price
    plpc = Decimal(0) if cost_basis == 0 else unrealized / cost_basis
    crypto = is_crypto(position.symbol)
    return {
        "asset_id": position.asset_id,
        "symbol": position.symbol.replace("/", "") if crypto else position.symbol,
        "exchange": "CRYPTO" if crypto else "ARCA",
        "asset_class": "crypto" if crypto else "us_equity",
        "asset_marginable": not crypto,
        "avg_entry_price": _text(position.avg_entry_price),
        "qty": _text(qty),
        "qty_available": _text(qty - held if qty > 0 else qty + held),
        "side": "long" if qty >= 0 else "short",
        "market_value": _text(market_value),
        "cost_basis": _text(cost_basis),
        "unrealized_pl": _text(unrealized),
        "unrealized_plpc": _text(plpc.quantize(Decimal("0.0000000001"))),
        "unrealized_intraday_pl": _text(unrealized),
        "unrealized_intraday_plpc": _text(plpc.quantize(Decimal("0.0000000001"))),
        "current_price": _text(position.last_price),
        "lastday_price": _text(position.last_price),
        "change_today": "0",
    }
