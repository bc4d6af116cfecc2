"""Historical bars REST (/v2/stocks/bars, /v1beta3/crypto/{loc}/bars) for backfill.

Only bars already published on the simulator's clock are served, so a backfill never sees the
future of the replay. Timeframes above one minute ({n}Min, {n}Hour, 1Day, and the T/H/D forms)
are aggregations of the minute bars: first open, highest high, lowest low, last close, summed
volume; n and vw only when every minute has them. Daily bars are stamped at New York midnight.
Pages follow `next_page_token` like Alpaca (an opaque offset here).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from aiohttp import web

from alpaca_sim.data import BarEvent, is_crypto
from alpaca_sim.jsonio import json_response
from alpaca_sim.models import CODE_VALIDATION, SimRejection
from alpaca_sim.rest import CORE
from alpaca_sim.timefmt import NEW_YORK, format_utc, parse_rfc3339_ns

_MINUTE_NS = 60 * 1_000_000_000
_TIMEFRAME = re.compile(r"^([0-9]{1,2})(Min|T|Hour|H|Day|D|Week|W|Month|M)$", re.ASCII)


@dataclass(frozen=True, slots=True)
class Timeframe:
    unit: str  # "min" | "hour" | "day"
    amount: int

    def bucket(self, ts_ns: int) -> int:
        if self.unit == "day":
            local = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).astimezone(NEW_YORK)
            return int(datetime.combine(local.date(), time(0), tzinfo=NEW_YORK).timestamp()) * 1_000_000_000
        size = _MINUTE_NS * self.amount * (60 if self.unit == "hour" else 1)
        return ts_ns - ts_ns % size


def parse_timeframe(raw: str) -> Timeframe:
    match = _TIMEFRAME.match(raw)
    if match is None:
        raise SimRejection(422, CODE_VALIDATION, f"invalid timeframe: {raw[:20]!r}")
    amount, unit = int(match.group(1)), match.group(2)
    if unit in ("Min", "T") and 1 <= amount <= 59:
        return Timeframe("min", amount)
    if unit in ("Hour", "H") and 1 <= amount <= 23:
        return Timeframe("hour", amount)
    if unit in ("Day", "D") and amount == 1:
        return Timeframe("day", 1)
    if unit in ("Week", "W", "Month", "M"):
        raise SimRejection(422, CODE_VALIDATION, f"timeframe {raw} is not supported by this simulator "
                                                 "(it serves Min, Hour and 1Day aggregations)")
    raise SimRejection(422, CODE_VALIDATION, f"invalid timeframe: {raw!r}")


def aggregate(bars: Sequence[BarEvent], timeframe: Timeframe) -> list[BarEvent]:
    """Minute bars (in time order) rolled up into `timeframe` buckets."""
    if timeframe == Timeframe("min", 1):
        return list(bars)
    out: list[BarEvent] = []
    group: list[BarEvent] = []
    for bar in bars:
        if group and timeframe.bucket(bar.ts_ns) != timeframe.bucket(group[0].ts_ns):
            out.append(_roll(group, timeframe))
            group = []
        group.append(bar)
    if group:
        out.append(_roll(group, timeframe))
    return out


def _roll(group: list[BarEvent], timeframe: Timeframe) -> BarEvent:
    volume = sum(b.volume for b in group)
    counts = [b.trade_count for b in group]
    vwaps = [b.vwap for b in group]
    vwap = None
    if all(v is not None for v in vwaps) and volume > 0:
        vwap = sum(b.volume * (b.vwap or 0.0) for b in group) / volume
    return BarEvent(group[0].symbol, timeframe.bucket(group[0].ts_ns), group[0].open, max(b.high for b in group),
                    min(b.low for b in group), group[-1].close, volume,
                    None if any(c is None for c in counts) else sum(c or 0 for c in counts), vwap)


def bar_json(bar: BarEvent, crypto: bool) -> dict[str, Any]:
    return {"t": format_utc(bar.ts_ns), "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close,
            "v": bar.volume if crypto or not bar.volume.is_integer() else int(bar.volume),
            "n": bar.trade_count, "vw": bar.vwap}


@dataclass(frozen=True, slots=True)
class Window:
    symbols: list[str]
    start: int
    end: int | None
    limit: int
    offset: int
    descending: bool


def window(query: Mapping[str, str], *, symbols_required: bool = True) -> Window:
    symbols = sorted({s for s in query.get("symbols", "").split(",") if s})
    if symbols_required and not symbols:
        raise SimRejection(400, CODE_VALIDATION, "symbols is required")
    if len(symbols) > 1000:
        raise SimRejection(400, CODE_VALIDATION, "too many symbols")
    try:
        start = parse_rfc3339_ns(query["start"]) if "start" in query else 0
        end = parse_rfc3339_ns(query["end"]) if "end" in query else None
        limit = int(query.get("limit", "1000"))
        offset = int(base64.urlsafe_b64decode(query["page_token"]).decode()) if "page_token" in query else 0
    except (ValueError, UnicodeDecodeError) as exc:
        raise SimRejection(400, CODE_VALIDATION, f"invalid query: {exc}") from None
    if not 1 <= limit <= 10_000:
        raise SimRejection(422, CODE_VALIDATION, "limit must be between 1 and 10000")
    if offset < 0:
        raise SimRejection(400, CODE_VALIDATION, "invalid page_token")
    sort = query.get("sort", "asc")
    if sort not in ("asc", "desc"):
        raise SimRejection(422, CODE_VALIDATION, "sort must be asc or desc")
    return Window(symbols, start, end, limit, offset, sort == "desc")


def page[T](rows: list[T], win: Window, symbol_of: Callable[[T], str],
         render: Callable[[T], dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    chosen = rows[win.offset:win.offset + win.limit]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in chosen:
        grouped.setdefault(symbol_of(row), []).append(render(row))
    more = win.offset + win.limit < len(rows)
    token = base64.urlsafe_b64encode(str(win.offset + win.limit).encode()).decode() if more else None
    return grouped, token


def routes() -> list[web.RouteDef]:
    return [web.get("/v2/stocks/bars", stock_bars), web.get("/v1beta3/crypto/{loc}/bars", crypto_bars)]


async def stock_bars(request: web.Request) -> web.Response:
    return json_response(_bars(request, crypto=False))


async def crypto_bars(request: web.Request) -> web.Response:
    return json_response(_bars(request, crypto=True))


def published_bars(request: web.Request, symbol: str) -> list[BarEvent]:
    now = request.app[CORE].replay.now_ns
    return [b for b in request.app[CORE].bars.get(symbol, []) if b.publish_ns <= now]


def _bars(request: web.Request, *, crypto: bool) -> dict[str, Any]:
    timeframe = parse_timeframe(request.query.get("timeframe", ""))
    win = window(request.query)
    rows: list[BarEvent] = []
    for symbol in win.symbols:
        if is_crypto(symbol) != crypto:
            continue
        chosen = [b for b in aggregate(published_bars(request, symbol), timeframe)
                  if b.ts_ns >= win.start and (win.end is None or b.ts_ns <= win.end)]
        rows.extend(reversed(chosen) if win.descending else chosen)
    grouped, token = page(rows, win, lambda b: b.symbol, lambda b: bar_json(b, crypto))
    return {"bars": grouped, "next_page_token": token}
