"""Stale data across the book: every held symbol without a price for too long trips the breaker.

One stale symbol only blocks new orders in it (rules.stale_data); when *all* held symbols are stale
while their markets are open, the feed itself is in doubt and the risk actor halts trading until an
operator looks. Outside the regular session (nights, weekends, sparse pre-market prints) silence is
normal for equities and never trips; crypto (symbols with a '/') trades around the clock.
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


def book_is_stale(held: Iterable[str], last_price_ns: Mapping[str, int], now_ns: int, stale_ns: int) -> bool:
    symbols = [s for s in held if in_regular_session(s, now_ns)]
    if not symbols:
        return False
    return all(now_ns - last_price_ns.get(s, -(10**30)) > stale_ns for s in symbols)
