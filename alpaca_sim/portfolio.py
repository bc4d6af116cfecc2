"""GET /v2/account/portfolio/history: the account's equity, marked to market after every replayed
minute, sampled in left-labeled windows (the equity as of each window's end).

Intraday timeframes (1Min, 5Min, 15Min, 1H) cover the regular session unless extended_hours=true
and at most 30 days; 1D has one point per trading day, at its close. The base value is the equity
just before the first window.
"""

from __future__ import annotations

import bisect
import re
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from aiohttp import web

from alpaca_sim import sessions
from alpaca_sim.jsonio import json_response
from alpaca_sim.models import CODE_VALIDATION, SimRejection
from alpaca_sim.rest import CORE
from alpaca_sim.timefmt import NEW_YORK, parse_rfc3339_ns

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_PERIOD = re.compile(r"^([0-9]{1,4})(D|W|M|A)$", re.ASCII)
_PERIOD_DAYS = {"D": 1, "W": 7, "M": 30, "A": 365}
_TIMEFRAMES = {"1Min": 60, "5Min": 300, "15Min": 900, "1H": 3600, "1D": 86_400}


def routes() -> list[web.RouteDef]:
    return [web.get("/v2/account/portfolio/history", history)]


def _invalid(message: str) -> SimRejection:
    return SimRejection(422, CODE_VALIDATION, message)


def _period_days(raw: str) -> int:
    match = _PERIOD.match(raw)
    if match is None or int(match.group(1)) == 0:
        raise _invalid(f"invalid period: {raw[:20]!r} (a number and D, W, M or A)")
    days = int(match.group(1)) * _PERIOD_DAYS[match.group(2)]
    if days > 3660:
        raise _invalid("period is longer than ten years")
    return days


def _instant(query: Any, name: str) -> int | None:
    if name not in query:
        return None
    try:
        return parse_rfc3339_ns(query[name])
    except ValueError:
        raise _invalid(f"invalid {name}: not an RFC-3339 time") from None


def _windows(start: int, end: int, step_s: int, extended: bool) -> list[tuple[int, int]]:
    """(window start, as-of time) pairs inside the sessions between start and end."""
    out: list[tuple[int, int]] = []
    first = datetime.fromtimestamp(start // _NS, tz=UTC).date()
    last = datetime.fromtimestamp(end // _NS, tz=UTC).date()
    for session in sessions.between(first, last):
        if step_s == 86_400:
            if start <= session.close_ns <= end + _DAY_NS:
                midnight = datetime.combine(session.day, time(0), tzinfo=NEW_YORK)  # Alpaca's daily stamp
                out.append((int(midnight.timestamp()) * _NS, min(session.close_ns, end)))
            continue
        lo, hi = (session.pre_ns, session.post_ns) if extended else (session.open_ns, session.close_ns)
        t = max(lo, start - start % (step_s * _NS))
        while t < min(hi, end):
            if t >= lo:
                out.append((t, min(t + step_s * _NS, end)))
            t += step_s * _NS
    return out


async def history(request: web.Request) -> web.Response:
    core = request.app[CORE]
    query = request.query
    days = _period_days(query.get("period", "1M"))
    timeframe = query.get("timeframe", "1Min" if days < 7 else "15Min" if days < 30 else "1D")
    if timeframe not in _TIMEFRAMES:
        raise _invalid(f"invalid timeframe: {timeframe[:20]!r} (1Min, 5Min, 15Min, 1H or 1D)")
    if timeframe != "1D" and days > 30:
        raise _invalid("intraday timeframes cover at most 30 days")
    extended = query.get("extended_hours", "false").lower() == "true"
    end = _instant(query, "end") or core.replay.now_ns
    end = min(end, core.replay.now_ns)
    start = _instant(query, "start") or end - days * _DAY_NS
    if start > end:
        raise _invalid("start is after end")
    marks = core.equity_marks
    times = [t for t, _ in marks]

    def equity_at(ts: int) -> Decimal:
        index = bisect.bisect_right(times, ts) - 1
        return marks[max(index, 0)][1]

    windows = _windows(start, end, _TIMEFRAMES[timeframe], extended)
    base = equity_at(windows[0][0] - 1) if windows else equity_at(start)
    equity = [equity_at(as_of) for _, as_of in windows]
    return json_response({
        "timestamp": [w // _NS for w, _ in windows],
        "equity": [float(e) for e in equity],
        "profit_loss": [float(e - base) for e in equity],
        "profit_loss_pct": [float((e - base) / base) if base else None for e in equity],
        "base_value": float(base), "base_value_asof": datetime.fromtimestamp(start // _NS, tz=NEW_YORK).date().isoformat(),
        "timeframe": timeframe,
    })
