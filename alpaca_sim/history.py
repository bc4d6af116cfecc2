"""Historical bars REST (/v2/stocks/bars, /v1beta3/crypto/{loc}/bars) for backfill.

Only bars already published on the simulator's clock are served, so a backfill never sees the
future of the replay. Pages follow `next_page_token` like Alpaca (an opaque offset here).
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from alpaca_sim.data import BarEvent, is_crypto
from alpaca_sim.models import CODE_VALIDATION, SimRejection
from alpaca_sim.rest import CORE, json_response
from alpaca_sim.timefmt import format_utc, parse_rfc3339_ns

_MINUTE_FORMS = ("1Min", "1T")


def routes() -> list[web.RouteDef]:
    return [web.get("/v2/stocks/bars", stock_bars), web.get("/v1beta3/crypto/{loc}/bars", crypto_bars)]


async def stock_bars(request: web.Request) -> web.Response:
    return json_response(_bars(request, crypto=False))


async def crypto_bars(request: web.Request) -> web.Response:
    return json_response(_bars(request, crypto=True))


def _bars(request: web.Request, *, crypto: bool) -> dict[str, Any]:
    core = request.app[CORE]
    query = request.query
    timeframe = query.get("timeframe", "")
    if timeframe not in _MINUTE_FORMS:
        raise SimRejection(422, CODE_VALIDATION, f"unsupported timeframe {timeframe!r}: the simulator has 1Min")
    symbols = [s for s in query.get("symbols", "").split(",") if s]
    if not symbols:
        raise SimRejection(400, CODE_VALIDATION, "symbols is required")
    try:
        start = parse_rfc3339_ns(query["start"]) if "start" in query else 0
        end = parse_rfc3339_ns(query["end"]) if "end" in query else None
        limit = int(query.get("limit", "1000"))
        offset = int(base64.urlsafe_b64decode(query["page_token"]).decode()) if "page_token" in query else 0
    except (ValueError, UnicodeDecodeError) as exc:
        raise SimRejection(400, CODE_VALIDATION, f"invalid query: {exc}") from None
    if not 1 <= limit <= 10_000:
        raise SimRejection(422, CODE_VALIDATION, "limit must be between 1 and 10000")
    descending = query.get("sort", "asc") == "desc"
    now = core.replay.now_ns
    rows: list[BarEvent] = []
    for symbol in sorted(set(symbols)):
        if is_crypto(symbol) != crypto:
            continue
        chosen = [
            b for b in core.bars.get(symbol, [])
            if b.publish_ns <= now and b.ts_ns >= start and (end is None or b.ts_ns <= end)
        ]
        rows.extend(reversed(chosen) if descending else chosen)
    page = rows[offset:offset + limit]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for bar in page:
        grouped.setdefault(bar.symbol, []).append({
            "t": format_utc(bar.ts_ns), "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close,
            "v": bar.volume if crypto or not bar.volume.is_integer() else int(bar.volume),
            "n": bar.trade_count, "vw": bar.vwap,
        })
    more = offset + limit < len(rows)
    token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
    return {"bars": grouped, "next_page_token": token}
