"""Stale data across the book: every held symbol without a price for too long trips the breaker.

One stale symbol only blocks new orders in it (rules.stale_data); when *all* held symbols are stale
the feed itself is in doubt, and the risk actor halts trading until an operator looks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def book_is_stale(held: Iterable[str], last_price_ns: Mapping[str, int], now_ns: int, stale_ns: int) -> bool:
    symbols = list(held)
    if not symbols:
        return False
    return all(now_ns - last_price_ns.get(s, -(10**30)) > stale_ns for s in symbols)
