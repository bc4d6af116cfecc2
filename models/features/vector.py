"""Serving-side features for many symbols at once: StreamingFeatures' state as numpy arrays.

One VectorFeatures holds the state of `n` symbol slots (a signal group). update_bars advances
the slots named in `slots` by one bar each, all in a handful of array operations; a slot may
appear at most once per call (a second bar of the same symbol goes into the next call, see
rounds()). Slots not named keep their state, so gaps and symbols that start mid-stream behave
as in StreamingFeatures, which stays the per-symbol reference: every recursion below repeats its
float operations in the same order (so EMAs, RMAs and RSI are bit for bit the same); rolling
means and deviations are summed by numpy instead of Python's compensated sum() and sumprod(),
which can move the last bits (tests/unit/features/test_vector_features.py pins 1e-9).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.features.indicators import _pandas_alpha_from_alpha, _pandas_alpha_from_span
from models.features.spec import FEATURE_NAMES, PARAMS, FeatureParams

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
NAN = np.nan
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def rounds(slots: I64) -> list[I64]:
    """Positions of `slots` split into calls of distinct slots, each slot's bars in their order.

    Round r holds every slot's r-th occurrence; the positions inside a round keep arrival order.
    """
    n = len(slots)
    if n == 0:
        return []
    order = np.argsort(slots, kind="stable")
    sorted_slots = slots[order]
    starts = np.flatnonzero(np.r_[True, sorted_slots[1:] != sorted_slots[:-1]])
    if len(starts) == n:  # the usual case: one bar per symbol
        return [np.arange(n, dtype=np.int64)]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = np.arange(n) - run_start
    return [np.flatnonzero(occurrence == r) for r in range(int(occurrence.max()) + 1)]


class _Ewm:
    """pandas' ewm(adjust=False) recursion (indicators._EwmAdjustFalse) over slots."""

    __slots__ = ("alpha", "keep", "norm", "value", "count")

    def __init__(self, n: int, alpha: float) -> None:
        self.alpha = alpha
        self.keep = 1.0 - alpha
        self.norm = self.keep + alpha
        self.value: F64 = np.full(n, NAN)
        self.count: I64 = np.zeros(n, dtype=np.int64)

    def update(self, idx: I64, x: F64) -> F64:
        """Advance slots idx by x; return their new values."""
        count = self.count[idx] + 1
        self.count[idx] = count
        old = self.value[idx]
        blended = (self.keep * old + self.alpha * x) / self.norm
        new = np.where(count == 1, x, np.where(old != x, blended, old))
        self.value[idx] = new
        return new


class _Ema:
    """indicators.Ema over slots: the SMA of the first `length` inputs seeds the ewm."""

    __slots__ = ("length", "ewm", "seen", "seed_sum")

    def __init__(self, n: int, length: int) -> None:
        self.length = length
        self.ewm = _Ewm(n, _pandas_alpha_from_span(length))
        self.seen: I64 = np.zeros(n, dtype=np.int64)
        self.seed_sum: F64 = np.zeros(n)

    def update(self, idx: I64, x: F64) -> tuple[F64, NDArray[np.bool_]]:
        """Advance slots idx; return (values, initialized) of those slots (NaN where not yet)."""
        seen = self.seen[idx] + 1
        self.seen[idx] = seen
        seeding = seen < self.length
        seed_sum = self.seed_sum[idx]
        if seeding.any():
            self.seed_sum[idx[seeding]] = seed_sum[seeding] + x[seeding]
        live = ~seeding
        values = self.ewm.value[idx]
        if live.any():
            at_seed = seen[live] == self.length
            inputs = np.where(at_seed, (seed_sum[live] + x[live]) / self.length, x[live])
            values[live] = self.ewm.update(idx[live], inputs)
        return values, live


class _Window:
    """The last `width` inputs per slot, oldest first (a shift register), and how many arrived."""

    __slots__ = ("width", "buffer", "depth", "same_run")

    def __init__(self, n: int, width: int) -> None:
        self.width = width
        self.buffer: F64 = np.full((n, width), NAN)
        self.depth: I64 = np.zeros(n, dtype=np.int64)
        self.same_run: I64 = np.zeros(n, dtype=np.int64)  # trailing inputs equal to the newest

    def push(self, idx: I64, x: F64) -> tuple[F64, I64]:
        """Append x to slots idx; return (their windows after the push, their depths)."""
        rows = self.buffer[idx]
        depth = self.depth[idx]
        same = (depth > 0) & (rows[:, -1] == x)
        self.same_run[idx] = np.where(same, self.same_run[idx] + 1, 1)
        rows[:, :-1] = rows[:, 1:]
        rows[:, -1] = x
        self.buffer[idx] = rows
        depth = np.minimum(depth + 1, self.width)
        self.depth[idx] = depth
        return rows, depth


def _mean_std(window: F64, same_run: I64, ddof: int = 1) -> tuple[F64, F64]:
    """RollingStats' two-pass mean and sample std of full windows; std exactly 0 for equal inputs."""
    width = window.shape[1]
    mean = window.sum(axis=1) / width
    deviations = window - mean[:, None]
    std = np.sqrt((deviations * deviations).sum(axis=1) / (width - ddof))
    return mean, np.where(same_run >= width, 0.0, std)


class VectorFeatures:
    """Feature vectors of `n` symbol slots (FEATURE_NAMES order), updated a batch of slots at a time."""

    def __init__(self, n: int, params: FeatureParams = PARAMS) -> None:
        if params.macd_slow < params.macd_fast:
            params = _swapped(params)
        self.n = n
        self.params = params
        self.warmup = params.warmup_bars()
        self.bars: I64 = np.zeros(n, dtype=np.int64)
        self.values: F64 = np.full((n, len(FEATURE_NAMES)), NAN)  # the current vector of every slot
        alpha_rsi = _pandas_alpha_from_alpha(1.0 / params.rsi_length)
        self._gain = _Ewm(n, alpha_rsi)
        self._loss = _Ewm(n, alpha_rsi)
        self._previous: F64 = np.full(n, NAN)
        self._fast = _Ema(n, params.macd_fast)
        self._slow = _Ema(n, params.macd_slow)
        self._signal = _Ema(n, params.macd_signal)
        lags = params.return_lags
        self._lags = lags
        self._closes = _Window(n, max(params.bb_length, max(lags) + 1))
        self._returns = _Window(n, params.volatility_window)
        self._volume = _Window(n, params.volume_window)

    def ready(self, slots: I64) -> NDArray[np.bool_]:
        return self.bars[slots] >= self.warmup

    def update_spread(self, slots: I64, bid: F64, ask: F64) -> None:
        """The latest quote of each slot (distinct slots); a side at 0 gives NaN."""
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = 10_000.0 * (ask - bid) / ((bid + ask) / 2.0)
        self.values[slots, _COL["spread_bps"]] = np.where((bid > 0.0) & (ask > 0.0), spread, NAN)

    def update_bars(self, slots: I64, close: F64, volume: F64) -> None:
        """One bar for each of `slots` (distinct); every bar-driven feature of those slots advances."""
        if len(slots) == 0:
            return
        p = self.params
        values = self.values
        self.bars[slots] += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            self._update_rsi(slots, close)
            self._update_macd(slots, close)
            previous_depth = self._closes.depth[slots]
            previous_close = self._closes.buffer[slots, -1]
            closes, depth = self._closes.push(slots, close)
            self._update_bands(slots, close, closes, depth)
            returns = np.log(close[:, None] / closes[:, [-1 - lag for lag in self._lags]])
            returns[np.asarray(self._lags)[None, :] >= depth[:, None]] = NAN
            values[slots, _COL["ret_1"]:_COL["ret_1"] + len(self._lags)] = returns
            # volatility: the std of one-bar log returns, from the second close on
            has_prev = previous_depth > 0
            moved = slots[has_prev]
            if len(moved):
                one_bar = np.log(close[has_prev] / previous_close[has_prev])
                window, count = self._returns.push(moved, one_bar)
                full = count == p.volatility_window
                if full.any():
                    _, std = _mean_std(window[full], self._returns.same_run[moved[full]])
                    values[moved[full], _COL["volatility_20"]] = std
            window, count = self._volume.push(slots, volume)
            full = count == p.volume_window
            if full.any():
                mean, std = _mean_std(window[full], self._volume.same_run[slots[full]])
                z = np.where(std != 0.0, (volume[full] - mean) / std, 0.0)
                values[slots[full], _COL["volume_z_20"]] = z

    def _update_rsi(self, slots: I64, close: F64) -> None:
        previous = self._previous[slots]
        self._previous[slots] = close
        live = self.bars[slots] > 1  # a slot's first bar only leaves its close behind
        if not live.any():
            return
        idx = slots[live]
        change = close[live] - previous[live]
        up = self._gain.update(idx, np.where(change > 0.0, change, 0.0))
        down = self._loss.update(idx, np.where(change < 0.0, change, 0.0))
        total = up + np.abs(down)
        self.values[idx, _COL["rsi_14"]] = np.where(total != 0.0, 100.0 * up / total, NAN)

    def _update_macd(self, slots: I64, close: F64) -> None:
        fast, _ = self._fast.update(slots, close)
        slow, slow_ready = self._slow.update(slots, close)
        if not slow_ready.any():
            return
        idx = slots[slow_ready]
        line = fast[slow_ready] - slow[slow_ready]
        self.values[idx, _COL["macd_line"]] = line
        signal, signal_ready = self._signal.update(idx, line)
        if signal_ready.any():
            ready = idx[signal_ready]
            self.values[ready, _COL["macd_signal"]] = signal[signal_ready]
            self.values[ready, _COL["macd_hist"]] = line[signal_ready] - signal[signal_ready]

    def _update_bands(self, slots: I64, close: F64, closes: F64, depth: I64) -> None:
        length = self.params.bb_length
        full = depth >= length
        if not full.any():
            return
        idx = slots[full]
        mid, std = _mean_std(closes[full][:, -length:], self._closes.same_run[idx])
        lower = mid - self.params.bb_std * std
        upper = mid + self.params.bb_std * std
        width = upper - lower
        flat = width == 0.0
        self.values[idx, _COL["bb_bandwidth"]] = np.where(flat, 0.0, 100.0 * width / mid)
        self.values[idx, _COL["bb_pctb"]] = np.where(flat, 0.5, (close[full] - lower) / width)


def _swapped(params: FeatureParams) -> FeatureParams:
    """pandas-ta (and indicators.Macd) swap a fast period longer than the slow one."""
    from dataclasses import replace

    return replace(params, macd_fast=params.macd_slow, macd_slow=params.macd_fast)
