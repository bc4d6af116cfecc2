"""RuleBasedBaseline: the documented mean-reversion rule, and a moderate trade count on real bars."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actors.signal.core import SignalCore
from actors.signal.strategy import RuleBasedBaseline
from cluster.foundation.domain.settings import SignalSettings
from cluster.foundation.domain.wire import Bar
from models.features.spec import FEATURE_NAMES
from models.protocol import Model


def _row(rsi: float, pctb: float, macd_line: float = -0.05, macd_hist: float = -0.01) -> list[float]:
    row = [0.0] * len(FEATURE_NAMES)
    row[FEATURE_NAMES.index("rsi_14")] = rsi
    row[FEATURE_NAMES.index("bb_pctb")] = pctb
    row[FEATURE_NAMES.index("macd_line")] = macd_line
    row[FEATURE_NAMES.index("macd_hist")] = macd_hist
    return row


@pytest.mark.parametrize(
    ("row", "expected", "why"),
    [
        (_row(25, -0.1), 1.0, "oversold below the lower band, momentum slowing"),
        (_row(25, -0.1, macd_line=-0.05, macd_hist=-0.04), 0.0, "falling knife: histogram beyond half the line"),
        (_row(35, -0.1), 0.0, "below the band but RSI not oversold"),
        (_row(25, 0.1), 0.0, "oversold but inside the band"),
        (_row(75, 0.5), -1.0, "overbought RSI"),
        (_row(50, 1.1), -1.0, "above the upper band"),
        (_row(50, 0.5), 0.0, "neutral"),
        (_row(math.nan, math.nan), 0.0, "undefined features give no opinion"),
    ],
)
def test_predict_when_row_matches_a_rule_then_documented_score(row: list[float], expected: float, why: str) -> None:
    model = RuleBasedBaseline(SignalSettings())
    assert model.predict(np.array([row])).tolist() == [expected], why


def test_predict_when_thresholds_come_from_settings_then_they_are_used() -> None:
    row = np.array([_row(25, -0.1), _row(65, 0.5)])
    strict = RuleBasedBaseline(SignalSettings(rsi_buy_below=20, rsi_sell_above=60))
    assert strict.predict(row).tolist() == [0.0, -1.0]


def test_predict_when_no_rows_then_empty_and_when_wrong_width_then_value_error() -> None:
    model = RuleBasedBaseline(SignalSettings())
    assert model.predict(np.empty((0, len(FEATURE_NAMES)))).shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros((3, len(FEATURE_NAMES) - 1)))


def test_baseline_when_checked_against_the_model_protocol_then_conforms() -> None:
    model: Model = RuleBasedBaseline(SignalSettings())
    assert (model.version, model.feature_names) == ("rule_baseline-1", FEATURE_NAMES)


def test_baseline_when_run_over_the_2013_week_of_four_symbols_then_tens_to_hundreds_of_trades(events) -> None:  # type: ignore[no-untyped-def]
    # Arrange
    core = SignalCore("all", ("SPY", "IBM", "BAC", "AIG"), RuleBasedBaseline(SignalSettings()), allow_short=False)
    # Act
    for event in events:
        if isinstance(event, Bar):
            core.on_bar(event, 0)
        else:
            core.on_quote(event)
    signals = core.end_batch(0).signals
    # Assert: moderate, and every symbol trades
    assert 20 <= len(signals) <= 400
    assert {s.symbol for s in signals} == {"SPY", "IBM", "BAC", "AIG"}
    bars = sum(isinstance(e, Bar) for e in events)
    assert len(signals) < bars / 50
