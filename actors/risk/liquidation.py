"""Kill-switch liquidation: market orders that take every position to flat, outside the normal gate.

Only an operator's kill calls this. The orders are reduce-only, sized from the filled position net
of closes already pending (so a second kill sends nothing new), and registered as pending in the
core like any approved order.
"""

from __future__ import annotations

from actors.risk.core import RiskCore
from cluster.ids import correlation_id
from cluster.wire import OrderIntent, Signal


def liquidation_intents(core: RiskCore, by: str) -> list[OrderIntent]:
    now = core._clock()
    intents: list[OrderIntent] = []
    for symbol in sorted(core.portfolio.open_symbols()):
        held = core.portfolio.position(symbol)
        is_buy = held < 0
        pending_close = (core._pending_buy if is_buy else core._pending_sell).get(symbol, 0)
        remaining = abs(held) - pending_close
        if remaining <= 0:
            continue
        last = core.portfolio.last_price(symbol) or 0
        signal = Signal(symbol=symbol, ts_ns=now, group="operator", batch=0, target=0, strength=0.0,
                        price=float(last), model_version=f"kill:{by}", correlation_id=correlation_id(symbol, now))
        intents.append(core._approve(signal, is_buy, remaining, True, now).intent)
    return intents
