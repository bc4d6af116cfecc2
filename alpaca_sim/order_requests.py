"""Validation of POST /v2/orders and PATCH /v2/orders/{id} bodies, the way Alpaca validates them.

Malformed input is a 422 with code 40010001; a well-formed request Alpaca would refuse (sub-penny
prices, a bracket whose take-profit is below its stop) is a 422 with 42210000; a feature this
simulator does not carry out is a 422 naming the feature, never a silent change of meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from alpaca_sim.data import is_crypto
from alpaca_sim.models import CODE_UNPROCESSABLE, CODE_VALIDATION, OrderRequest, SimRejection

ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIME_IN_FORCE = frozenset({"day", "gtc", "ioc", "fok"})
UNSUPPORTED_TIF = frozenset({"opg", "cls"})
CRYPTO_TIF = frozenset({"gtc", "ioc"})
CRYPTO_TYPES = frozenset({"market", "limit", "stop_limit"})
ORDER_CLASSES = frozenset({"simple", "", "bracket", "oco", "oto"})
MAX_CLIENT_ORDER_ID = 128
MAX_PRICE = Decimal(1_000_000_000)
MAX_QTY = Decimal(1_000_000_000)
_QTY_PLACES = 9


@dataclass(frozen=True, slots=True)
class ReplaceRequest:
    qty: Decimal | None
    time_in_force: str | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    client_order_id: str | None
    trail: Decimal | None = None  # a trailing stop's new trail_price or trail_percent


def invalid(message: str) -> SimRejection:
    return SimRejection(422, CODE_VALIDATION, message)


def refused(message: str) -> SimRejection:
    return SimRejection(422, CODE_UNPROCESSABLE, message)


def parse_order_request(body: object) -> OrderRequest:
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol or len(symbol) > 32:
        raise invalid("symbol is required")
    crypto = is_crypto(symbol)
    side, order_type, tif = (_word(body.get(k)) for k in ("side", "type", "time_in_force"))
    if side not in ("buy", "sell"):
        raise invalid(f"invalid side: {_show(side)}")
    if order_type not in ORDER_TYPES:
        raise invalid(f"invalid order type: {_show(order_type)}")
    if tif in UNSUPPORTED_TIF:
        raise refused(f"time_in_force {tif} is not supported by this simulator")
    if tif not in TIME_IN_FORCE:
        raise invalid(f"invalid time_in_force: {_show(tif)}")
    if crypto and tif not in CRYPTO_TIF:
        raise refused(f"invalid crypto time_in_force: {tif} (crypto orders take gtc or ioc)")
    if crypto and order_type not in CRYPTO_TYPES:
        raise refused(f"invalid crypto order type: {order_type}")
    for unsupported in ("legs", "position_intent"):
        if body.get(unsupported) is not None:
            raise refused(f"{unsupported} is not supported by this simulator")
    notional = _notional(body, order_type, tif, crypto)
    qty = Decimal(0) if notional is not None else quantity(body.get("qty"), "qty", required=True)
    assert qty is not None
    if qty != qty.to_integral_value() and not crypto and not (order_type == "market" and tif == "day"):
        raise refused("fractional orders must be market day orders")
    trail_price, trail_percent = _trail(body, order_type, tif, crypto)
    limit_price = price(body.get("limit_price"), "limit_price", crypto, required=order_type in ("limit", "stop_limit"))
    stop_price = price(body.get("stop_price"), "stop_price", crypto, required=order_type in ("stop", "stop_limit"))
    extended = body.get("extended_hours", False)
    if extended is None:
        extended = False
    if not isinstance(extended, bool):
        raise invalid("extended_hours must be a boolean")
    if extended and (order_type != "limit" or tif != "day"):
        raise refused("extended hours order must be DAY limit orders")
    if extended and crypto:
        raise refused("extended_hours does not apply to crypto orders")
    cid = client_order_id(body.get("client_order_id"))
    if order_type == "trailing_stop" and stop_price is not None:
        raise invalid("stop_price does not apply to trailing_stop orders: send trail_price or trail_percent")
    request = OrderRequest(symbol, qty, side, order_type, tif, cid, limit_price, stop_price, extended,
                           notional=notional, trail_price=trail_price, trail_percent=trail_percent)
    return _with_class(request, body, crypto)


def _notional(body: dict[str, Any], order_type: str | None, tif: str | None, crypto: bool) -> Decimal | None:
    raw = body.get("notional")
    if raw is None:
        return None
    if body.get("qty") is not None:
        raise invalid("qty and notional cannot both be given")
    value = price(raw, "notional", crypto, required=True)
    assert value is not None
    if order_type != "market":
        raise refused("notional orders must be market orders")
    if not crypto and tif != "day":
        raise refused("notional orders must be DAY orders")
    if value < 1:
        raise refused("notional must be at least 1 USD")
    return value


def _trail(body: dict[str, Any], order_type: str | None, tif: str | None,
           crypto: bool) -> tuple[Decimal | None, Decimal | None]:
    raw_price, raw_percent = body.get("trail_price"), body.get("trail_percent")
    if order_type != "trailing_stop":
        if raw_price is not None or raw_percent is not None:
            raise invalid("trail_price and trail_percent apply to trailing_stop orders only")
        return None, None
    if (raw_price is None) == (raw_percent is None):
        raise invalid("trailing_stop orders need exactly one of trail_price or trail_percent")
    if tif not in ("day", "gtc"):
        raise refused("trailing_stop orders must be DAY or GTC")
    if raw_price is not None:
        return price(raw_price, "trail_price", crypto, required=True), None
    percent = _decimal(raw_percent, "trail_percent")
    if percent >= 100 or percent != percent.quantize(Decimal("0.01")):
        raise refused("trail_percent must be below 100 with at most 2 decimal places")
    return None, percent


def _with_class(request: OrderRequest, body: dict[str, Any], crypto: bool) -> OrderRequest:
    order_class = _word(body.get("order_class")) or "simple"
    if order_class == "mleg":
        raise refused("order_class mleg (options) is not supported by this simulator")
    if order_class not in ORDER_CLASSES:
        raise invalid(f"invalid order_class: {_show(order_class)}")
    take_profit, stop_loss = body.get("take_profit"), body.get("stop_loss")
    if order_class == "simple":
        if take_profit is not None or stop_loss is not None:
            raise refused("take_profit and stop_loss need order_class bracket, oco or oto")
        return request
    if crypto:
        raise refused(f"crypto orders support only simple orders, not {order_class}")
    if request.notional is not None or request.order_type == "trailing_stop":
        raise refused(f"{order_class} orders take qty and a market, limit, stop or stop_limit entry")
    if request.qty != request.qty.to_integral_value():
        raise refused(f"fractional orders cannot be {order_class} orders")
    if request.time_in_force not in ("day", "gtc"):
        raise refused(f"{order_class} orders must be DAY or GTC")
    if request.extended_hours:
        raise refused(f"extended hours is not supported for {order_class} orders")
    tp = _leg_price(take_profit, "take_profit", "limit_price")
    sl = _leg_price(stop_loss, "stop_loss", "stop_price")
    sl_limit = _leg_price(stop_loss, "stop_loss", "limit_price", required=False)
    if order_class in ("bracket", "oco") and (tp is None or sl is None):
        raise invalid(f"{order_class} orders require both take_profit and stop_loss")
    if order_class == "oto" and (tp is None) == (sl is None):
        raise invalid("oto orders require exactly one of take_profit or stop_loss")
    if order_class == "oco":
        if request.order_type != "limit":
            raise refused("oco orders must be limit orders")
        if request.limit_price != tp:
            raise refused("oco order limit_price must equal take_profit.limit_price")
    # a bracket's legs sell out of a buy (an oco *is* the exit): selling exits take profit above the stop
    exits_sell = (request.side == "buy") != (order_class == "oco")
    if tp is not None and sl is not None and (tp <= sl if exits_sell else tp >= sl):
        relation = ">" if exits_sell else "<"
        raise refused(f"take_profit.limit_price must be {relation} stop_loss.stop_price")
    return replace(request, order_class=order_class, take_profit=tp, stop_loss=sl, stop_loss_limit=sl_limit)


def _leg_price(leg: object, name: str, key: str, *, required: bool = True) -> Decimal | None:
    if leg is None:
        return None
    if not isinstance(leg, dict):
        raise invalid(f"{name} must be an object")
    return price(leg.get(key), f"{name}.{key}", False, required=required)


def parse_replace_request(body: object, crypto: bool) -> ReplaceRequest:
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    tif = _word(body.get("time_in_force"))
    if tif is not None and tif not in TIME_IN_FORCE:
        raise invalid(f"invalid time_in_force: {_show(tif)}")
    qty = quantity(body.get("qty"), "qty", required=False)
    if qty is not None and qty != qty.to_integral_value():
        raise refused("replace takes whole shares only")
    return ReplaceRequest(
        qty, tif,
        price(body.get("limit_price"), "limit_price", crypto, required=False),
        price(body.get("stop_price"), "stop_price", crypto, required=False),
        client_order_id(body.get("client_order_id")),
        None if body.get("trail") is None else _decimal(body.get("trail"), "trail"),
    )


def client_order_id(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw or len(raw) > MAX_CLIENT_ORDER_ID:
        raise invalid(f"client_order_id must be a string of 1 to {MAX_CLIENT_ORDER_ID} characters")
    return raw


def _decimal(raw: object, name: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str) or (isinstance(raw, str) and len(raw) > 40):
        raise invalid(f"{name} must be a number or a numeric string")
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise invalid(f"invalid {name}: {_show(raw)}") from None
    if not value.is_finite() or value <= 0:
        raise invalid(f"{name} must be a positive number")
    return value


def _bounded(raw: object, name: str, maximum: Decimal, *, required: bool) -> Decimal | None:
    """None when absent and optional; else a positive number no larger than `maximum`."""
    if raw is None:
        if required:
            raise invalid(f"{name} is required")
        return None
    value = _decimal(raw, name)
    if value > maximum:
        raise refused(f"{name} {value} is larger than {maximum}")
    return value


def quantity(raw: object, name: str, *, required: bool) -> Decimal | None:
    value = _bounded(raw, name, MAX_QTY, required=required)
    if value is not None and value != value.quantize(Decimal(1).scaleb(-_QTY_PLACES)):
        raise refused(f"{name} has more than {_QTY_PLACES} decimal places")
    return value


def price(raw: object, name: str, crypto: bool, *, required: bool) -> Decimal | None:
    """A positive price; equities in whole cents (hundredths of a cent below $1), like Alpaca."""
    value = _bounded(raw, name, MAX_PRICE, required=required)
    if value is None:
        return None
    places = 9 if crypto else (2 if value >= 1 else 4)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise refused(f"invalid {name} {raw}. sub-penny increment does not fulfill minimum pricing criteria")
    return value


def _word(value: object) -> str | None:
    """Enumerated fields are strings; anything else compares as a value no enum holds."""
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)[:40] + "\x00"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
