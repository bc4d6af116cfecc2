"""Trading REST v2 handlers (docs/alpaca-protocol.md A1) over the matching engine."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from alpaca_sim.core import SimCore
from alpaca_sim.jsonio import json_response, read_json
from alpaca_sim.models import (
    CODE_NOT_FOUND,
    CODE_VALIDATION,
    OrderRequest,
    SimRejection,
    order_json,
    position_json,
)
from alpaca_sim.order_requests import parse_order_request, parse_replace_request, quantity
from alpaca_sim.sessions import clock as session_clock
from alpaca_sim.timefmt import format_new_york, format_utc, parse_rfc3339_ns

CORE: web.AppKey[SimCore] = web.AppKey("core", SimCore)


def routes() -> list[web.RouteDef]:
    return route_table({
        "/v2/account": {"GET": account},
        "/v2/clock": {"GET": clock},
        "/v2/orders": {"POST": submit_order, "GET": list_orders, "DELETE": cancel_all},
        "/v2/orders:by_client_order_id": {"GET": order_by_client_id},
        "/v2/orders/{order_id}": {"GET": get_order, "PATCH": replace_order, "DELETE": cancel_order},
        "/v2/positions": {"GET": list_positions, "DELETE": close_all_positions},
        "/v2/positions/{symbol:.+}": {"GET": get_position, "DELETE": close_position},  # BTC/USD keeps its slash
    })


def route_table(table: Mapping[str, Mapping[str, Handler]]) -> list[web.RouteDef]:
    """aiohttp routes from {path: {method: handler}}, in table order; a GET also answers HEAD, as with web.get."""
    return [web.get(path, handler) if method == "GET" else web.route(method, path, handler)
            for path, handlers in table.items() for method, handler in handlers.items()]


async def account(request: web.Request) -> web.Response:
    core = request.app[CORE]
    state = core.engine.balances()
    money = {k: _money(v) for k, v in {
        "cash": state.cash, "buying_power": state.buying_power, "regt_buying_power": state.regt_buying_power,
        "daytrading_buying_power": state.daytrading_buying_power,
        "non_marginable_buying_power": state.non_marginable_buying_power,
        "options_buying_power": Decimal(0), "equity": state.equity, "last_equity": state.equity,
        "portfolio_value": state.equity, "long_market_value": state.long_value, "short_market_value": state.short_value,
        "position_market_value": state.long_value - state.short_value, "initial_margin": state.initial_margin,
        "maintenance_margin": state.maintenance_margin, "last_maintenance_margin": state.maintenance_margin,
        "sma": Decimal(0), "accrued_fees": Decimal(0), "pending_transfer_in": Decimal(0),
        "pending_transfer_out": Decimal(0),
    }.items()}
    return json_response({
        "id": core.account_id, "account_number": "PA0SIMULATOR", "status": "ACTIVE", "crypto_status": "ACTIVE",
        "currency": "USD", "multiplier": str(state.multiplier), "daytrade_count": 0,
        "pattern_day_trader": False,  # a flag for accounts that day-traded 4 times in 5 days
        "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
        "trade_suspended_by_user": False, "shorting_enabled": core.engine.allow_short,
        "created_at": format_utc(core.replay.now_ns), "options_approved_level": 0, "options_trading_level": 0,
        **money,
    })


async def clock(request: web.Request) -> web.Response:
    now = request.app[CORE].replay.now_ns
    is_open, next_open, next_close = session_clock(now)
    return json_response({
        "timestamp": format_new_york(now), "is_open": is_open,
        "next_open": format_new_york(next_open), "next_close": format_new_york(next_close),
    })


async def submit_order(request: web.Request) -> web.Response:
    core = request.app[CORE]
    snapshot = core.submit(parse_order_request(await read_json(request)))
    if core.config.post_status == "accepted":
        snapshot = {**snapshot, "status": "accepted"}
    return json_response(snapshot)


async def list_orders(request: web.Request) -> web.Response:
    engine = request.app[CORE].engine
    query = request.query
    status = query.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise SimRejection(422, CODE_VALIDATION, f"invalid status: {status}")
    limit = _int_param(query.get("limit", "50"), "limit", 1, 500)
    symbols = {s for s in query.get("symbols", "").split(",") if s}
    after = _time_param(query, "after")
    until = _time_param(query, "until")
    chosen = [
        o for o in engine.orders.values()
        if (status == "all" or (status == "open") == o.is_open)
        and (not symbols or o.symbol in symbols)
        and query.get("side", o.side) == o.side
        and (after is None or o.created_ns > after)
        and (until is None or o.created_ns < until)
    ]
    nested = _bool_param(query, "nested")
    if nested:  # legs roll up under their entry instead of being listed on their own
        chosen = [o for o in chosen if o.parent_id is None]
    chosen.sort(key=lambda o: o.created_ns, reverse=query.get("direction", "desc") == "desc")
    return json_response([_order(engine, o, nested) for o in chosen[:limit]])


async def order_by_client_id(request: web.Request) -> web.Response:
    cid = request.query.get("client_order_id", "")
    engine = request.app[CORE].engine
    return json_response(_order(engine, engine.order_by_client_id(cid), _bool_param(request.query, "nested")))


async def get_order(request: web.Request) -> web.Response:
    engine = request.app[CORE].engine
    order = engine.order(request.match_info["order_id"])
    return json_response(_order(engine, order, _bool_param(request.query, "nested")))


async def replace_order(request: web.Request) -> web.Response:
    core = request.app[CORE]
    order = core.engine.order(request.match_info["order_id"])
    body = parse_replace_request(await read_json(request), "/" in order.symbol)
    return json_response(core.replace(order.id, body))


def _order(engine: Any, order: Any, nested: bool) -> dict[str, Any]:
    return engine.snapshot(order) if nested else order_json(order)


async def cancel_order(request: web.Request) -> web.Response:
    request.app[CORE].cancel(request.match_info["order_id"])
    return web.Response(status=204)


async def cancel_all(request: web.Request) -> web.Response:
    return json_response(request.app[CORE].cancel_all(), status=207)


async def list_positions(request: web.Request) -> web.Response:
    positions = request.app[CORE].engine.positions.values()
    engine = request.app[CORE].engine
    return json_response([position_json(p, engine.held_for_orders(p.symbol))
                          for p in sorted(positions, key=lambda p: p.symbol)])


async def get_position(request: web.Request) -> web.Response:
    core = request.app[CORE]
    symbol = core.position_symbol(request.match_info["symbol"])
    return json_response(position_json(core.engine.positions[symbol], core.engine.held_for_orders(symbol)))


async def close_position(request: web.Request) -> web.Response:
    core = request.app[CORE]
    symbol = core.position_symbol(request.match_info["symbol"])
    held = core.engine.positions[symbol].qty
    qty = abs(held)
    if "qty" in request.query:
        asked = quantity(request.query["qty"], "qty", required=True)
        assert asked is not None
        qty = min(qty, asked)
    elif "percentage" in request.query:
        pct = _decimal_param(request.query["percentage"], "percentage")
        if pct > 100:
            raise SimRejection(422, CODE_VALIDATION, "percentage must be between 0 and 100")
        qty = (qty * pct / 100).quantize(Decimal("0.000000001"), rounding=ROUND_DOWN)
        if qty <= 0:
            raise SimRejection(422, CODE_VALIDATION, "percentage leaves nothing to close")
    return json_response(core.submit(_closing_order(symbol, qty, held)))


def _closing_order(symbol: str, qty: Decimal, held: Decimal) -> OrderRequest:
    """A market order that closes `qty` of a position (gtc for crypto, which takes no day orders)."""
    tif = "gtc" if "/" in symbol else "day"
    return OrderRequest(symbol, qty, "sell" if held > 0 else "buy", "market", tif, None, None, None)


async def close_all_positions(request: web.Request) -> web.Response:
    core = request.app[CORE]
    if request.query.get("cancel_orders", "false").lower() == "true":
        core.cancel_all()
    results: list[dict[str, Any]] = []
    for symbol, position in sorted(core.engine.positions.items()):
        try:
            order = core.submit(_closing_order(symbol, abs(position.qty), position.qty))
            results.append({"symbol": symbol, "status": 200, "body": order})
        except SimRejection as exc:
            results.append({"symbol": symbol, "status": exc.http_status, "body": {**exc.body, "symbol": symbol}})
    return json_response(results, status=207)


def _bool_param(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise SimRejection(422, CODE_VALIDATION, f"invalid {name}: must be true or false")
    return raw == "true"


def _time_param(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return parse_rfc3339_ns(query[name])
    except ValueError:
        raise SimRejection(422, CODE_VALIDATION, f"invalid {name}: {query[name]!r} is not an RFC-3339 time") from None


def _int_param(raw: str, name: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SimRejection(422, CODE_VALIDATION, f"invalid {name}: {raw}") from None
    if not low <= value <= high:
        raise SimRejection(422, CODE_VALIDATION, f"{name} must be between {low} and {high}")
    return value


def _decimal_param(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SimRejection(422, CODE_VALIDATION, f"invalid {name}: {raw}") from None
    if not value.is_finite() or value <= 0:
        raise SimRejection(422, CODE_VALIDATION, f"{name} must be positive")
    return value


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def not_found(message: str) -> SimRejection:
    return SimRejection(404, CODE_NOT_FOUND, message)
