"""Each limit function at its boundary: exactly at the limit passes, one cent past it rejects."""

from __future__ import annotations

from decimal import Decimal

import pytest
from risk_fakes import NS, real_closes, seed_limits

from actors.risk import rules

D = Decimal
LIMITS = seed_limits()
CENT = D("0.01")


def test_max_position_when_symbol_exposure_exceeds_10k_then_rejects() -> None:
    assert rules.max_position("SPY", LIMITS.max_position_usd, LIMITS.max_position_usd) is None
    rejection = rules.max_position("SPY", D(10_000) + CENT, LIMITS.max_position_usd)
    assert rejection is not None and rejection.rule == "max_position"


def test_max_total_exposure_when_total_exceeds_50k_then_rejects() -> None:
    assert rules.max_total_exposure(D(50_000), LIMITS.max_total_exposure_usd) is None
    rejection = rules.max_total_exposure(D(50_000) + CENT, LIMITS.max_total_exposure_usd)
    assert rejection is not None and rejection.rule == "max_total_exposure"


def test_max_open_positions_when_five_open_and_sixth_would_open_then_rejects() -> None:
    assert rules.max_open_positions("QQQ", 4, True, LIMITS.max_open_positions) is None
    assert rules.max_open_positions("QQQ", 5, False, LIMITS.max_open_positions) is None
    rejection = rules.max_open_positions("QQQ", 5, True, LIMITS.max_open_positions)
    assert rejection is not None and rejection.rule == "max_open_positions"


def test_order_notional_cap_when_order_exceeds_cap_then_rejects() -> None:
    assert rules.order_notional_cap("IBM", D(10_000), LIMITS.max_order_notional_usd) is None
    assert rules.order_notional_cap("IBM", D(10_000) + CENT, LIMITS.max_order_notional_usd) is not None


def test_price_band_when_signal_price_is_more_than_5pct_from_last_then_rejects() -> None:
    last = D(repr(real_closes("SPY")[0]))
    edge = last * D("1.05")
    assert rules.price_band("SPY", edge, last, LIMITS.price_band_pct) is None
    assert rules.price_band("SPY", last * D("0.95"), last, LIMITS.price_band_pct) is None
    rejection = rules.price_band("SPY", edge + CENT, last, LIMITS.price_band_pct)
    assert rejection is not None and rejection.rule == "price_band"


def test_order_rate_when_200_orders_in_last_minute_then_rejects() -> None:
    assert rules.order_rate(199, LIMITS.max_orders_per_minute) is None
    assert rules.order_rate(200, LIMITS.max_orders_per_minute) is not None


def test_stale_data_when_last_price_older_than_300s_then_rejects() -> None:
    max_age = int(LIMITS.stale_data_seconds * NS)
    assert rules.stale_data("AIG", 0, max_age, max_age) is None
    assert rules.stale_data("AIG", 0, max_age + 1, max_age) is not None
    assert rules.stale_data("AIG", None, 0, max_age) is not None


@pytest.mark.parametrize(
    ("state", "shrinks", "rule"),
    [("open", True, "breaker_open"), ("open", False, "breaker_open"), ("reducing", False, "breaker_reducing")],
)
def test_breaker_gate_when_open_or_reducing_entry_then_rejects(state: str, shrinks: bool, rule: str) -> None:
    rejection = rules.breaker_gate(state, shrinks)
    assert rejection is not None and rejection.rule == rule


def test_breaker_gate_when_reducing_and_order_shrinks_then_passes() -> None:
    assert rules.breaker_gate("reducing", True) is None
    assert rules.breaker_gate("closed", False) is None


@pytest.mark.parametrize("symbol", ["SPY", "IBM", "BAC", "AIG", "AAPL"])
def test_whole_shares_within_when_budget_given_then_largest_fitting_whole_quantity(symbol: str) -> None:
    price = D(repr(real_closes(symbol)[300]))
    qty = rules.whole_shares_within(D(5_000), price)
    assert qty == qty.to_integral_value()
    assert qty * price <= 5_000 < (qty + 1) * price
