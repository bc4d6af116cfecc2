"""Stale data across the book: every held symbol without a price for too long trips the breaker.

One stale symbol only blocks new orders in it (rules.stale_data); when *all* held symbols are stale
while their markets are open, the feed itself is in doubt and the risk actor halts trading until an
operator looks. Outside the regular session (nights, weekends, sparse pre-market prints) silence is
normal for equities and never trips, and the silence is counted from the session's open (a symbol
that has not printed since Friday is not stale at 09:30:01 on Monday); crypto (symbols with a '/')
trades around the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from zoneinfo import ZoneInfo

_NY = ZoneInfo("America/New_York")
_OPEN, _CLOSE = time(9, 30), time(16, 0)


def in_regular_session(symbol: str, ts_ns: int) -> bool:
    if "/" in symbol:
        return True
    local = datetime.fromtimestamp(ts_ns / 1e9, tz=_NY)
    return local.weekday() < 5 and _OPEN <= local.time() < _CLOSE


def session_open_ns(ts_ns: int) -> int:
    """09:30 America/New_York of the day of ts_ns, in UTC ns."""
    local = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=_NY)
    return int(datetime.combine(local.date(), _OPEN, tzinfo=_NY).timestamp()) * 1_000_000_000


def book_is_stale(held: Iterable[str], last_price_ns: Mapping[str, int], now_ns: int, stale_ns: int) -> bool:
    symbols = [s for s in held if in_regular_session(s, now_ns)]
    if not symbols:
        return False
    opened = session_open_ns(now_ns)
    return all(
        now_ns - max(last_price_ns.get(s, -(10**30)), -(10**30) if "/" in s else opened) > stale_ns for s in symbols
    )
