"""Risk limits as small pure functions: each returns a Rejection (rule code + human reason) or None.

The core sizes an order to fit every limit and then asks these functions; they are the authority.
Amounts are Decimal; the caller passes the state *after* the order would fill, worst case
(pending orders in the unfavourable direction all fill).
"""

from __future__ import annotations

from collections import deque
from decimal import ROUND_FLOOR, Decimal

import msgspec

ONE = Decimal(1)
MINUTE_NS = 60_000_000_000


class Rejection(msgspec.Struct, frozen=True):
    rule: str
    reason: str


def breaker_gate(state: str, shrinks_position: bool) -> Rejection | None:
    """Open: nothing passes. Reducing: only orders that shrink |position| pass."""
    if state == "open":
        return Rejection("breaker_open", "circuit breaker is open: no new orders")
    if state == "reducing" and not shrinks_position:
        return Rejection("breaker_reducing", "circuit breaker is reducing: only orders that shrink a position")
    return None


def stale_data(symbol: str, last_price_ns: int | None, now_ns: int, max_age_ns: int) -> Rejection | None:
    if last_price_ns is None:
        return Rejection("stale_data", f"{symbol}: no price seen yet")
    age = now_ns - last_price_ns
    if age > max_age_ns:
        return Rejection("stale_data", f"{symbol}: last price is {age / 1e9:.0f}s old (max {max_age_ns / 1e9:.0f}s)")
    return None


def price_band(symbol: str, order_price: Decimal, last_price: Decimal, band_pct: Decimal) -> Rejection | None:
    """The signal's price must be within band_pct of the last price we marked."""
    if abs(order_price - last_price) * 100 > band_pct * last_price:
        return Rejection(
            "price_band", f"{symbol}: order price {order_price} is more than {band_pct}% from last price {last_price}"
        )
    return None


def order_rate(orders_last_minute: int, max_per_minute: int) -> Rejection | None:
    if orders_last_minute >= max_per_minute:
        return Rejection("order_rate", f"{orders_last_minute} orders in the last minute (max {max_per_minute})")
    return None


def order_notional_cap(symbol: str, notional: Decimal, limit: Decimal) -> Rejection | None:
    if notional > limit:
        return Rejection("order_notional_cap", f"{symbol}: order notional {notional:.2f} exceeds cap {limit}")
    return None


def max_position(symbol: str, exposure_after: Decimal, limit: Decimal) -> Rejection | None:
    if exposure_after > limit:
        return Rejection("max_position", f"{symbol}: position would be {exposure_after:.2f} USD (max {limit})")
    return None


def max_total_exposure(total_after: Decimal, limit: Decimal) -> Rejection | None:
    if total_after > limit:
        return Rejection("max_total_exposure", f"total exposure would be {total_after:.2f} USD (max {limit})")
    return None


def max_open_positions(symbol: str, open_count: int, opens_new: bool, limit: int) -> Rejection | None:
    if opens_new and open_count >= limit:
        return Rejection("max_open_positions", f"{symbol}: {open_count} positions open or pending (max {limit})")
    return None


def whole_shares_within(budget: Decimal, price: Decimal) -> Decimal:
    """Largest whole quantity q >= 0 with q x price <= budget, exactly."""
    if budget <= 0:
        return Decimal(0)
    qty = (budget / price).to_integral_value(rounding=ROUND_FLOOR)
    while qty > 0 and qty * price > budget:  # the division may have rounded up in its last digit
        qty -= ONE
    return qty


class OrderTimes:
    """Approval times of the last minute, for the order-rate limit."""

    def __init__(self) -> None:
        self._times: deque[int] = deque()

    def add(self, now: int) -> None:
        self._times.append(now)

    def last_minute(self, now: int) -> int:
        times = self._times
        while times and times[0] <= now - MINUTE_NS:
            times.popleft()
        return len(times)
