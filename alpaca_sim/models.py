"""The simulator's order and position records, the order request parser and their Alpaca JSON.

Alpaca sends every number as a string and accepts numbers or numeric strings on input, so the
records hold Decimals and the renderers turn them into strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from alpaca_sim.data import is_crypto
from alpaca_sim.timefmt import format_utc

OPEN_STATUSES = frozenset({"accepted", "pending_new", "new", "partially_filled", "pending_cancel"})
ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit"})
TIME_IN_FORCE = frozenset({"day", "gtc", "ioc"})
CODE_VALIDATION = 40010001
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_NOT_CANCELABLE = 42210000
MAX_CLIENT_ORDER_ID = 48


class SimRejection(Exception):
    """An Alpaca error response: HTTP status plus the JSON body {"code", "message", ...extra}."""

    def __init__(self, http_status: int, code: int, message: str, **extra: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body: dict[str, Any] = {"code": code, "message": message, **extra}


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


def parse_order_request(body: object) -> OrderRequest:
    """Validate a POST /v2/orders body the way Alpaca does (422 40010001 on any violation)."""
    if not isinstance(body, dict):
        raise _invalid("request body must be a JSON object")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise _invalid("symbol is required")
    if body.get("notional") is not None:
        raise _invalid("notional orders are not supported by this simulator")
    side, order_type, tif = body.get("side"), body.get("type"), body.get("time_in_force")
    if side not in ("buy", "sell"):
        raise _invalid(f"invalid side: {side!r}")
    if order_type not in ORDER_TYPES:
        raise _invalid(f"invalid order type: {order_type!r}")
    if tif not in TIME_IN_FORCE:
        raise _invalid(f"invalid time_in_force: {tif!r}")
    qty = _decimal(body, "qty", required=True)
    assert qty is not None
    if qty <= 0:
        raise _invalid("qty must be > 0")
    if qty != qty.to_integral_value() and not (order_type == "market" and tif == "day") and not is_crypto(symbol):
        raise _invalid("fractional orders must be market day orders")
    limit_price = _decimal(body, "limit_price", required=order_type in ("limit", "stop_limit"))
    stop_price = _decimal(body, "stop_price", required=order_type in ("stop", "stop_limit"))
    cid = body.get("client_order_id")
    if cid is not None and (not isinstance(cid, str) or not cid or len(cid) > MAX_CLIENT_ORDER_ID):
        raise _invalid(f"client_order_id must be a string of 1 to {MAX_CLIENT_ORDER_ID} characters")
    return OrderRequest(symbol, qty, side, order_type, tif, cid, limit_price, stop_price)


def _decimal(body: dict[str, Any], key: str, *, required: bool) -> Decimal | None:
    raw = body.get(key)
    if raw is None:
        if required:
            raise _invalid(f"{key} is required")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _invalid(f"{key} must be a number or a numeric string")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise _invalid(f"invalid {key}: {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise _invalid(f"{key} must be a positive number")
    return value


def _invalid(message: str) -> SimRejection:
    return SimRejection(422, CODE_VALIDATION, message)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _stamp(ts_ns: int | None) -> str | None:
    return None if ts_ns is None else format_utc(ts_ns)


def order_json(order: SimOrder) -> dict[str, Any]:
    """The Alpaca Order object (v2), numbers as strings, absent values as null."""
    avg = order.filled_avg_price
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": format_utc(order.created_ns),
        "updated_at": format_utc(order.updated_ns or order.created_ns),
        "submitted_at": format_utc(order.created_ns),
        "filled_at": _stamp(order.filled_ns),
        "expired_at": _stamp(order.expired_ns),
        "expires_at": None,
        "canceled_at": _stamp(order.canceled_ns),
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": order.asset_id,
        "symbol": order.symbol,
        "asset_class": "crypto" if is_crypto(order.symbol) else "us_equity",
        "notional": None,
        "qty": _text(order.qty),
        "filled_qty": _text(order.filled_qty),
        "filled_avg_price": None if avg is None else _text(avg.quantize(Decimal("0.000000001"))),
        "order_class": "",
        "order_type": order.order_type,
        "type": order.order_type,
        "side": order.side,
        "position_intent": None,
        "time_in_force": order.time_in_force,
        "limit_price": _text(order.limit_price),
        "stop_price": _text(order.stop_price),
        "status": order.status,
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "commission": "0",
    }


def position_json(position: SimPosition) -> dict[str, Any]:
    """The Alpaca Position object; `exchange` must be one of Alpaca's enum values."""
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
        "qty_available": _text(qty),
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
