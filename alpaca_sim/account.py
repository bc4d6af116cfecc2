"""The paper account's money: a Reg-T margin account (Alpaca paper's default) or a cash account.

Margin: equities 50% initial and 30% maintenance (long or short); crypto is never marginable.
With multiplier 2 the buying power is the Reg-T one, 2 x (equity - initial margin); with 4 (an
account of $25,000 or more, where pattern-day-trader rules apply) it is the day-trading buying
power, 4 x (equity - maintenance margin). A cash account (multiplier 1) buys with its cash only.
Open orders hold buying power at their limit or stop price, or the current price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from alpaca_sim.data import is_crypto
from alpaca_sim.models import SimPosition

PDT_MIN_EQUITY = Decimal(25_000)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Balances:
    cash: Decimal
    equity: Decimal
    long_value: Decimal
    short_value: Decimal  # negative, like Alpaca's short_market_value
    initial_margin: Decimal
    maintenance_margin: Decimal
    multiplier: int
    regt_buying_power: Decimal
    daytrading_buying_power: Decimal
    buying_power: Decimal
    non_marginable_buying_power: Decimal


def effective_multiplier(configured: int, equity: Decimal) -> int:
    """Alpaca grants 4x only to accounts with at least $25,000; below that a margin account is 2x."""
    if configured >= 4 and equity < PDT_MIN_EQUITY:
        return 2
    return configured


def balances(cash: Decimal, positions: list[SimPosition], holds: list[tuple[str, Decimal]],
             configured_multiplier: int) -> Balances:
    """`holds`: (symbol, amount) that each open order holds of the buying power."""
    long_value = sum((p.qty * p.last_price for p in positions if p.qty > 0), _ZERO)
    short_value = sum((p.qty * p.last_price for p in positions if p.qty < 0), _ZERO)
    equity = cash + long_value + short_value
    initial = maintenance = _ZERO
    for p in positions:
        value = abs(p.qty * p.last_price)
        if is_crypto(p.symbol):
            initial += value
            maintenance += value
        else:
            initial += value / 2
            maintenance += value * Decimal("0.30")
    multiplier = effective_multiplier(configured_multiplier, equity)
    held = sum((amount for _, amount in holds), _ZERO)
    crypto_held = sum((amount for symbol, amount in holds if is_crypto(symbol)), _ZERO)
    if multiplier == 1:
        regt = daytrading = _ZERO
        power = cash - held
    else:
        regt = max(_ZERO, (equity - initial) * 2)
        daytrading = max(_ZERO, (equity - maintenance) * 4) if multiplier == 4 else _ZERO
        power = max(_ZERO, (daytrading if multiplier == 4 else regt) - held)
        regt = max(_ZERO, regt - held)
    return Balances(
        cash=cash, equity=equity, long_value=long_value, short_value=short_value, initial_margin=initial,
        maintenance_margin=maintenance, multiplier=multiplier, regt_buying_power=regt,
        daytrading_buying_power=daytrading, buying_power=power,
        non_marginable_buying_power=max(_ZERO, cash - crypto_held) if multiplier > 1 else cash - held,
    )
