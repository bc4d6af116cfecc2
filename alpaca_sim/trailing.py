"""Orders whose size or stop moves with the market: trailing stops and notional (dollar) orders."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

from alpaca_sim.data import is_crypto
from alpaca_sim.models import SimOrder

_QTY_STEP = Decimal("0.000000001")
_CENT = Decimal("0.01")


def trail_to(order: SimOrder, price: Decimal) -> None:
    """Move a trailing stop's high-water mark (low for buys) and its stop price with the market."""
    selling = order.side == "sell"
    if order.hwm is None or (price > order.hwm if selling else price < order.hwm):
        order.hwm = price
    if order.trail_price is not None:
        offset = order.trail_price
    else:
        offset = order.hwm * (order.trail_percent or Decimal(0)) / 100
    stop = order.hwm - offset if selling else order.hwm + offset
    order.stop_price = stop if is_crypto(order.symbol) else stop.quantize(_CENT, ROUND_DOWN if selling else ROUND_UP)


def notional_qty(notional: Decimal, price: Decimal) -> Decimal:
    """Shares a dollar amount buys at `price`, rounded down to Alpaca's 9 decimal places."""
    return (notional / price).quantize(_QTY_STEP, rounding=ROUND_DOWN)
