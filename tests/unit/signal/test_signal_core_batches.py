"""SignalCore (a group's features as arrays, a batch at a time) equals a per-symbol reference.

The reference is what SignalCore did bar by bar before: one StreamingFeatures per symbol, a row
queued per warm bar, one predict per batch, targets applied in arrival order with the dead band.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.signal.core import SignalCore
from cluster.foundation.domain.wire import Bar, Quote
from models.features.spec import FEATURE_NAMES
from models.features.streaming import StreamingFeatures

RET_1 = FEATURE_NAMES.index("ret_1")
RSI = FEATURE_NAMES.index("rsi_14")


class RecordingModel:
    """Scores on features whose sign cannot move with the last bits: a flat bar scores 0 (keep)."""

    version = "recording-1"
    feature_names = FEATURE_NAMES

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.rows.append(np.array(rows))
        return np.sign(rows[:, RET_1]) * np.where(rows[:, RSI] > 50.0, 1.0, 0.6)


class PerSymbolReference:
    def __init__(self, symbols: list[str], allow_short: bool, threshold: float = 0.5) -> None:
        self.features = {s: StreamingFeatures() for s in symbols}
        self.targets = dict.fromkeys(symbols, 0)
        self.allow_short, self.threshold = allow_short, threshold
        self.queue: list[tuple[str, int, float, tuple[float, ...]]] = []
        self.model = RecordingModel()

    def feed(self, items: list[Bar | Quote]) -> None:
        for item in items:
            f = self.features.get(item.symbol)
            if f is None:
                continue
            if isinstance(item, Bar):
                f.update_bar(item.close, item.high, item.low, item.volume)
                if f.ready:
                    self.queue.append((item.symbol, item.ts_ns, item.close, f.values()))
            else:
                f.update_quote(item.bid, item.ask)

    def end_batch(self) -> list[tuple[str, int, float, int, float]]:
        queue, self.queue = self.queue, []
        if not queue:
            return []
        scores = self.model.predict(np.array([q[3] for q in queue]))
        out = []
        for (symbol, ts, price, _), score in zip(queue, scores.tolist(), strict=True):
            current = self.targets[symbol]
            target = current
            if not math.isnan(score):
                if score >= self.threshold:
                    target = 1
                elif score <= -self.threshold:
                    target = -1 if self.allow_short else 0
            if target != current:
                self.targets[symbol] = target
                out.append((symbol, ts, price, target, score))
        return out


def _events(seed: int, n: int, minutes: int, presence: float, repeats: float) -> list[list[Bar | Quote]]:
    """Batches of bars and quotes: gaps, late starters, an unknown symbol, several bars per symbol per batch."""
    rng = np.random.default_rng(seed)
    symbols = [f"S{i}" for i in range(n)] + ["UNKNOWN"]
    price = np.round(rng.uniform(5.0, 300.0, n + 1), 2)
    start = rng.integers(0, max(1, minutes // 2), n + 1)
    batches: list[list[Bar | Quote]] = []
    batch: list[Bar | Quote] = []
    for minute in range(minutes):
        ts = 1_700_000_000_000_000_000 + minute * 60_000_000_000
        price = np.maximum(0.01, np.round(price * np.exp(rng.normal(0.0, 0.004, n + 1)), 2))
        for i in rng.permutation(n + 1):
            if start[i] > minute or rng.random() > presence:
                continue
            if rng.random() < 0.3:
                bid = float(price[i]) - 0.01 if rng.random() > 0.1 else 0.0
                batch.append(Quote(symbols[i], ts, bid, 100.0, float(price[i]) + 0.01, 100.0))
            p = float(price[i])
            batch.append(Bar(symbols[i], ts, p, p, p, p, float(rng.integers(0, 5_000))))
        if rng.random() > repeats:  # otherwise the next minute joins this batch
            batches.append(batch)
            batch = []
    batches.append(batch)
    return batches


@pytest.mark.parametrize("vector_from", [1, 10**9], ids=["arrays", "per-symbol"])
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 8), minutes=st.integers(1, 120),
       presence=st.floats(0.3, 1.0), repeats=st.floats(0.0, 0.8), allow_short=st.booleans())
def test_core_when_random_batches_with_gaps_then_same_rows_and_signals_as_per_symbol_reference(
    vector_from: int, seed: int, n: int, minutes: int, presence: float, repeats: float, allow_short: bool
) -> None:
    batches = _events(seed, n, minutes, presence, repeats)
    symbols = [f"S{i}" for i in range(n)]
    reference = PerSymbolReference(symbols, allow_short)
    model = RecordingModel()
    core = SignalCore("g0", symbols, model, allow_short, vector_from=vector_from)  # type: ignore[arg-type]
    assert core.vectorized == (vector_from == 1)
    for k, items in enumerate(batches):
        reference.feed(items)
        expected = reference.end_batch()
        core.on_items(items, k)
        got = [(s.symbol, s.ts_ns, s.price, s.target, s.strength) for s in core.end_batch(k).signals]
        assert got == expected
    ours = np.concatenate(model.rows) if model.rows else np.empty((0, len(FEATURE_NAMES)))
    theirs = np.concatenate(reference.model.rows) if reference.model.rows else ours
    assert ours.shape == theirs.shape
    # a batch with several bars of a symbol is predicted round by round: compare the rows as a set
    ours, theirs = (rows[np.lexsort(np.nan_to_num(rows, nan=-1e300).T)] for rows in (ours, theirs))
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    for symbol in symbols:
        np.testing.assert_allclose(core.feature_values(symbol), reference.features[symbol].values(), rtol=0,
                                   atol=1e-9)
        assert core.target(symbol) == reference.targets[symbol]
    assert core.stats()["ignored"] == sum(1 for b in batches for m in b if m.symbol == "UNKNOWN")


@pytest.mark.parametrize("vector_from", [1, 10**9], ids=["arrays", "per-symbol"])
def test_core_when_fed_item_by_item_or_as_one_batch_then_identical(vector_from: int) -> None:
    batches = _events(7, 5, 150, 0.9, 0.5)
    symbols = [f"S{i}" for i in range(5)]
    one = SignalCore("g0", symbols, RecordingModel(), True, vector_from=vector_from)  # type: ignore[arg-type]
    many = SignalCore("g0", symbols, RecordingModel(), True, vector_from=vector_from)  # type: ignore[arg-type]
    for k, items in enumerate(batches):
        one.on_items(items, k)
        for item in items:
            if isinstance(item, Bar):
                many.on_bar(item, k)
            else:
                many.on_quote(item)
        assert one.end_batch(k) == many.end_batch(k)


def test_core_when_narrow_or_wide_group_then_same_signals_on_both_paths() -> None:
    batches = _events(11, 6, 200, 0.8, 0.6)
    symbols = [f"S{i}" for i in range(6)]
    arrays = SignalCore("g0", symbols, RecordingModel(), True, vector_from=1)  # type: ignore[arg-type]
    streams = SignalCore("g0", symbols, RecordingModel(), True)  # type: ignore[arg-type]
    assert arrays.vectorized and not streams.vectorized  # six symbols are a narrow group by default
    for k, items in enumerate(batches):
        arrays.on_items(items, k)
        streams.on_items(items, k)
        assert arrays.end_batch(k) == streams.end_batch(k)
