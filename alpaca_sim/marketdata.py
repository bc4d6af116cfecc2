"""Market-data REST beyond bars: historical quotes and trades, latest bar/quote/trade, snapshots.

Everything is served from the loaded data as published on the simulator's clock: quote bars give
the quotes (the book at each minute's close), tick files the trades. A symbol with no data of a
kind is left out of the answer, as Alpaca leaves it out; nothing is made up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from alpaca_sim.data import BarEvent, QuoteEvent, TradeEvent, is_crypto
from alpaca_sim.history import Timeframe, aggregate, bar_json, page, published_bars, window
from alpaca_sim.jsonio import json_response
from alpaca_sim.models import CODE_VALIDATION, SimRejection
from alpaca_sim.rest import CORE
from alpaca_sim.timefmt import format_utc

_TAPES = {"SPY": "B", "AAPL": "C", "QQQ": "C"}


def routes() -> list[web.RouteDef]:
    crypto = "/v1beta3/crypto/{loc:(us|us-1|eu-1)}"
    return [
        web.get("/v2/stocks/quotes", _handler("quotes", False)),
        web.get("/v2/stocks/trades", _handler("trades", False)),
        web.get("/v2/stocks/{kind:(bars|quotes|trades)}/latest", _latest_stock),
        web.get("/v2/stocks/snapshots", _snapshots_stock),
        web.get(crypto + "/quotes", _handler("quotes", True)),
        web.get(crypto + "/trades", _handler("trades", True)),
        web.get(crypto + "/latest/{kind:(bars|quotes|trades)}", _latest_crypto),
        web.get(crypto + "/snapshots", _snapshots_crypto),
    ]


def quote_json(quote: QuoteEvent, crypto: bool) -> dict[str, Any]:
    if crypto:
        return {"t": format_utc(quote.ts_ns), "bp": quote.bid, "bs": quote.bid_size, "ap": quote.ask,
                "as": quote.ask_size}
    return {"t": format_utc(quote.ts_ns), "bx": "", "bp": quote.bid, "bs": int(quote.bid_size), "ax": "",
            "ap": quote.ask, "as": int(quote.ask_size), "c": [], "z": _TAPES.get(quote.symbol, "A")}


def trade_json(trade: TradeEvent, crypto: bool) -> dict[str, Any]:
    if crypto:
        return {"t": format_utc(trade.ts_ns), "p": trade.price, "s": trade.size, "i": trade.trade_id, "tks": "B"}
    return {"t": format_utc(trade.ts_ns), "x": trade.exchange, "p": trade.price, "s": int(trade.size), "c": [],
            "i": trade.trade_id, "z": _TAPES.get(trade.symbol, "A")}


def _published(request: web.Request, kind: str, symbol: str) -> Sequence[QuoteEvent | TradeEvent]:
    core = request.app[CORE]
    now = core.replay.now_ns
    source: Sequence[QuoteEvent | TradeEvent] = (core.quotes if kind == "quotes" else core.trades).get(symbol, [])
    return [e for e in source if e.publish_ns <= now]


def _render(kind: str, event: QuoteEvent | TradeEvent, crypto: bool) -> dict[str, Any]:
    if isinstance(event, QuoteEvent):
        return quote_json(event, crypto)
    return trade_json(event, crypto)


def _handler(kind: str, crypto: bool) -> Any:
    async def handle(request: web.Request) -> web.Response:
        win = window(request.query)
        rows: list[QuoteEvent | TradeEvent] = []
        for symbol in win.symbols:
            if is_crypto(symbol) != crypto:
                continue
            chosen = [e for e in _published(request, kind, symbol)
                      if e.ts_ns >= win.start and (win.end is None or e.ts_ns <= win.end)]
            rows.extend(reversed(chosen) if win.descending else chosen)
        grouped, token = page(rows, win, lambda e: e.symbol, lambda e: _render(kind, e, crypto))
        return json_response({kind: grouped, "next_page_token": token})
    return handle


def _symbols(request: web.Request) -> list[str]:
    symbols = sorted({s for s in request.query.get("symbols", "").split(",") if s})
    if not symbols:
        raise SimRejection(400, CODE_VALIDATION, "symbols is required")
    if len(symbols) > 1000:
        raise SimRejection(400, CODE_VALIDATION, "too many symbols")
    return symbols


def _latest(request: web.Request, kind: str, crypto: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for symbol in _symbols(request):
        if is_crypto(symbol) != crypto:
            continue
        if kind == "bars":
            bars = published_bars(request, symbol)
            if bars:
                found[symbol] = bar_json(bars[-1], crypto)
            continue
        events = _published(request, kind, symbol)
        if events:
            found[symbol] = _render(kind, events[-1], crypto)
    return {kind: found}


async def _latest_stock(request: web.Request) -> web.Response:
    return json_response(_latest(request, request.match_info["kind"], False))


async def _latest_crypto(request: web.Request) -> web.Response:
    return json_response(_latest(request, request.match_info["kind"], True))


def _snapshot(request: web.Request, symbol: str, crypto: bool) -> dict[str, Any] | None:
    bars = published_bars(request, symbol)
    quotes, trades = _published(request, "quotes", symbol), _published(request, "trades", symbol)
    if not (bars or quotes or trades):
        return None
    daily: list[BarEvent] = aggregate(bars, Timeframe("day", 1))
    return {
        "latestTrade": trade_json(trades[-1], crypto) if trades and isinstance(trades[-1], TradeEvent) else None,
        "latestQuote": quote_json(quotes[-1], crypto) if quotes and isinstance(quotes[-1], QuoteEvent) else None,
        "minuteBar": bar_json(bars[-1], crypto) if bars else None,
        "dailyBar": bar_json(daily[-1], crypto) if daily else None,
        "prevDailyBar": bar_json(daily[-2], crypto) if len(daily) > 1 else None,
    }


async def _snapshots_stock(request: web.Request) -> web.Response:
    found = {s: snap for s in _symbols(request) if not is_crypto(s)
             and (snap := _snapshot(request, s, False)) is not None}
    return json_response(found)


async def _snapshots_crypto(request: web.Request) -> web.Response:
    found = {s: snap for s in _symbols(request) if is_crypto(s)
             and (snap := _snapshot(request, s, True)) is not None}
    return json_response({"snapshots": found})
