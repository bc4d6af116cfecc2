"""Serving-side features: one StreamingFeatures per symbol, O(1) work per bar, no pandas.

Must equal models.features.batch.compute_features row for row (within 1e-9) after warm-up;
tests/unit/features pin that on the shipped minute bars.
"""

from __future__ import annotations

import math
from collections import deque

from models.features.indicators import NAN, BollingerBands, Macd, RollingStats, Rsi
from models.features.spec import PARAMS, FeatureParams


class StreamingFeatures:
    """Feature vector of one symbol, updated bar by bar (and quote by quote for the spread)."""

    __slots__ = (
        "params", "_rsi", "_macd", "_bands", "_closes", "_lags", "_volatility", "_volume",
        "_bars", "_warmup", "_returns", "_volume_z", "_spread_bps",
    )

    def __init__(self, params: FeatureParams = PARAMS) -> None:
        self.params = params
        self._rsi = Rsi(params.rsi_length)
        self._macd = Macd(params.macd_fast, params.macd_slow, params.macd_signal)
        self._bands = BollingerBands(params.bb_length, params.bb_std, params.bb_std)
        self._lags = params.return_lags
        self._closes: deque[float] = deque(maxlen=max(self._lags) + 1)
        self._volatility = RollingStats(params.volatility_window)
        self._volume = RollingStats(params.volume_window)
        self._warmup = params.warmup_bars()
        self._bars = 0
        self._returns: tuple[float, ...] = (NAN,) * len(self._lags)
        self._volume_z = NAN
        self._spread_bps = NAN

    def update_bar(self, close: float, high: float, low: float, volume: float) -> None:
        """Advance every bar-driven feature by one bar (high/low are accepted for future features)."""
        self._bars += 1
        self._rsi.update(close)
        self._macd.update(close)
        self._bands.update(close)
        closes = self._closes
        if closes:
            self._volatility.update(math.log(close / closes[-1]))
        closes.append(close)
        depth = len(closes)
        log = math.log
        self._returns = tuple([log(close / closes[-1 - lag]) if lag < depth else NAN for lag in self._lags])
        volume_stats = self._volume
        volume_stats.update(volume)
        if volume_stats.initialized:
            std = volume_stats.std
            self._volume_z = (volume - volume_stats.mean) / std if std != 0.0 else 0.0

    def update_quote(self, bid: float, ask: float) -> None:
        """Remember the spread of the latest quote; a side at 0 (no quote) gives NaN."""
        mid = (bid + ask) / 2.0
        self._spread_bps = 10_000.0 * (ask - bid) / mid if bid > 0.0 and ask > 0.0 else NAN

    @property
    def ready(self) -> bool:
        return self._bars >= self._warmup

    @property
    def bars(self) -> int:
        return self._bars

    def values(self) -> tuple[float, ...]:
        """The current vector in FEATURE_NAMES order (NaN where a feature is not yet defined).

        Listed by hand for speed; a test checks it against FEATURE_NAMES and the batch side.
        """
        macd = self._macd
        bands = self._bands
        return (
            self._rsi.value,
            macd.value,
            macd.signal,
            macd.histogram,
            bands.percent_b,
            bands.bandwidth,
            *self._returns,
            self._volatility.std,
            self._volume_z,
            self._spread_bps,
        )
