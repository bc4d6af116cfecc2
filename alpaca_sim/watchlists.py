"""Watchlists (/v2/watchlists): named, ordered lists of the simulator's assets, kept in memory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from alpaca_sim.assets import ASSETS
from alpaca_sim.jsonio import json_response, read_json
from alpaca_sim.models import CODE_NOT_FOUND, CODE_UNPROCESSABLE, CODE_VALIDATION, SimRejection
from alpaca_sim.rest import CORE, route_table
from alpaca_sim.timefmt import format_utc

MAX_LISTS = 200
MAX_SYMBOLS = 1000


@dataclass(slots=True)
class Watchlist:
    id: str
    name: str
    created_ns: int
    updated_ns: int
    symbols: list[str] = field(default_factory=list)


class Watchlists:
    def __init__(self) -> None:
        self.by_id: dict[str, Watchlist] = {}


WATCHLISTS: web.AppKey[Watchlists] = web.AppKey("watchlists", Watchlists)


def routes() -> list[web.RouteDef]:
    return route_table({
        "/v2/watchlists": {"GET": list_all, "POST": create},
        "/v2/watchlists/{id}": {"GET": get_one, "PUT": update, "POST": add_asset, "DELETE": delete},
        "/v2/watchlists/{id}/{symbol:.+}": {"DELETE": remove_asset},
    })


def _json(request: web.Request, wl: Watchlist, with_assets: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"id": wl.id, "account_id": request.app[CORE].account_id, "name": wl.name,
                            "created_at": format_utc(wl.created_ns), "updated_at": format_utc(wl.updated_ns)}
    if with_assets:
        book = request.app[ASSETS]
        body["assets"] = [a.json() for s in wl.symbols if (a := book.find(s)) is not None]
    return body


def _find(request: web.Request) -> Watchlist:
    wl = request.app[WATCHLISTS].by_id.get(request.match_info["id"])
    if wl is None:
        raise SimRejection(404, CODE_NOT_FOUND, "watchlist not found")
    return wl


def _name(raw: object) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        raise SimRejection(422, CODE_VALIDATION, "name must be a string of 1 to 64 characters")
    return raw


def _symbols(request: web.Request, raw: object) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw) or len(raw) > MAX_SYMBOLS:
        raise SimRejection(422, CODE_VALIDATION, f"symbols must be a list of at most {MAX_SYMBOLS} strings")
    book = request.app[ASSETS]
    return [book.for_order(s).symbol for s in raw]


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise SimRejection(422, CODE_VALIDATION, "request body must be a JSON object")
    return body


async def list_all(request: web.Request) -> web.Response:
    return json_response([_json(request, wl, False) for wl in request.app[WATCHLISTS].by_id.values()])


async def create(request: web.Request) -> web.Response:
    body = await _body(request)
    name, symbols = _name(body.get("name")), _symbols(request, body.get("symbols"))
    lists = request.app[WATCHLISTS].by_id
    if any(wl.name == name for wl in lists.values()):
        raise SimRejection(422, CODE_UNPROCESSABLE, f"watchlist name {name!r} is already taken")
    if len(lists) >= MAX_LISTS:
        raise SimRejection(422, CODE_UNPROCESSABLE, f"at most {MAX_LISTS} watchlists")
    now = request.app[CORE].replay.now_ns
    wl = Watchlist(str(uuid.uuid4()), name, now, now, symbols)
    lists[wl.id] = wl
    return json_response(_json(request, wl))


async def get_one(request: web.Request) -> web.Response:
    return json_response(_json(request, _find(request)))


async def update(request: web.Request) -> web.Response:
    wl, body = _find(request), await _body(request)
    if body.get("name") is not None:
        wl.name = _name(body["name"])
    if body.get("symbols") is not None:
        wl.symbols = _symbols(request, body["symbols"])
    wl.updated_ns = request.app[CORE].replay.now_ns
    return json_response(_json(request, wl))


async def add_asset(request: web.Request) -> web.Response:
    wl, body = _find(request), await _body(request)
    raw = body.get("symbol")
    if not isinstance(raw, str):
        raise SimRejection(422, CODE_VALIDATION, "symbol is required")
    symbol = request.app[ASSETS].for_order(raw).symbol
    if symbol not in wl.symbols:
        if len(wl.symbols) >= MAX_SYMBOLS:
            raise SimRejection(422, CODE_UNPROCESSABLE, f"at most {MAX_SYMBOLS} symbols in a watchlist")
        wl.symbols.append(symbol)
    wl.updated_ns = request.app[CORE].replay.now_ns
    return json_response(_json(request, wl))


async def delete(request: web.Request) -> web.Response:
    request.app[WATCHLISTS].by_id.pop(_find(request).id)
    return web.Response(status=204)


async def remove_asset(request: web.Request) -> web.Response:
    wl = _find(request)
    asset = request.app[ASSETS].find(request.match_info["symbol"])
    if asset is None or asset.symbol not in wl.symbols:
        raise SimRejection(404, CODE_NOT_FOUND, "symbol not found in watchlist")
    wl.symbols.remove(asset.symbol)
    wl.updated_ns = request.app[CORE].replay.now_ns
    return json_response(_json(request, wl))
