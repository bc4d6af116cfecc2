"""The rule-based baseline: a mean-reversion model that needs no training.

It is the yardstick a trained model must beat, and the strategy the cluster runs by default.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cluster.foundation.domain.settings import SignalSettings
from models.features.spec import FEATURE_NAMES, spec_hash

_RSI = FEATURE_NAMES.index("rsi_14")
_PCTB = FEATURE_NAMES.index("bb_pctb")
_MACD_LINE = FEATURE_NAMES.index("macd_line")
_MACD_HIST = FEATURE_NAMES.index("macd_hist")


class RuleBasedBaseline:
    """Buy the oversold, leave the overbought, but do not catch a falling knife.

    Per row (all conditions on the same bar):
    * +1 (enter long)  when RSI < rsi_buy_below AND %B < 0 (close below the lower band)
                       AND macd_hist > -knife_ratio * |macd_line|: the fast EMA is no longer
                       pulling away from the MACD signal faster than half the line itself.
                       The ratio makes the filter independent of the price level.
    * -1 (exit / short) when RSI > rsi_sell_above OR %B > 1 (close above the upper band).
    * 0 otherwise: no opinion; SignalCore keeps the current target.
    Rows with NaN features score 0 (every comparison with NaN is false).

    On the shipped SPY/IBM/BAC/AIG minute bars of 2013-10-04..11 the default 30/70 thresholds
    give 86 target changes over the four symbols (long only).
    """

    version = "rule_baseline-1"
    feature_names = FEATURE_NAMES
    knife_ratio = 0.5

    def __init__(self, settings: SignalSettings) -> None:
        self.rsi_buy_below = float(settings.rsi_buy_below)
        self.rsi_sell_above = float(settings.rsi_sell_above)
        self.spec_hash = spec_hash()

    def predict(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """rows: (n, len(FEATURE_NAMES)) float64; returns n scores in {-1.0, 0.0, +1.0}."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"expected rows of shape (n, {len(FEATURE_NAMES)}), got {rows.shape}")
        rsi = rows[:, _RSI]
        pctb = rows[:, _PCTB]
        knife_ok = rows[:, _MACD_HIST] > -self.knife_ratio * np.abs(rows[:, _MACD_LINE])
        buy = (rsi < self.rsi_buy_below) & (pctb < 0.0) & knife_ok
        sell = (rsi > self.rsi_sell_above) | (pctb > 1.0)
        return np.where(buy, 1.0, np.where(sell, -1.0, 0.0))
