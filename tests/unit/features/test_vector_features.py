"""VectorFeatures (a group's features as arrays) equals StreamingFeatures (one symbol) and pandas-ta."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from models.features.batch import compute_features
from models.features.spec import FEATURE_NAMES, WARMUP_BARS
from models.features.streaming import StreamingFeatures
from models.features.vector import VectorFeatures, rounds

SPREAD = FEATURE_NAMES.index("spread_bps")
SYMBOLS = ("SPY", "IBM", "BAC", "AIG", "AAPL")


def _assert_same(vector: VectorFeatures, reference: list[StreamingFeatures]) -> None:
    for slot, one in enumerate(reference):
        expected = np.array(one.values())
        got = vector.values[slot]
        assert np.array_equal(np.isnan(expected), np.isnan(got)), (slot, expected, got)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        assert bool(vector.ready(np.array([slot]))[0]) == one.ready


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), steps=st.integers(1, 90),
       presence=st.floats(0.2, 1.0), flat=st.floats(0.0, 0.9))
def test_vector_when_random_paths_with_gaps_then_equals_streaming_per_symbol(
    seed: int, n: int, steps: int, presence: float, flat: float
) -> None:
    # Arrange: random walks on a cent grid; symbols miss bars, start late, stay flat for stretches
    rng = np.random.default_rng(seed)
    vector = VectorFeatures(n)
    reference = [StreamingFeatures() for _ in range(n)]
    price = np.round(rng.uniform(1.0, 500.0, n), 2)
    start = rng.integers(0, max(1, steps // 2), n)
    for step in range(steps):
        moving = rng.random(n) >= flat
        price = np.where(moving, np.maximum(0.01, np.round(price * np.exp(rng.normal(0.0, 0.003, n)), 2)), price)
        volume = np.where(rng.random(n) < flat, 100.0, rng.integers(0, 10_000, n).astype(np.float64))
        slots = np.flatnonzero((rng.random(n) < presence) & (start <= step))
        rng.shuffle(slots)
        quoted = np.flatnonzero(rng.random(n) < 0.3)
        bid = np.where(rng.random(len(quoted)) < 0.1, 0.0, price[quoted] - 0.01)
        ask = price[quoted] + rng.choice([0.0, 0.01, 0.05], len(quoted))
        # Act
        vector.update_spread(quoted, bid, ask)
        vector.update_bars(slots, price[slots], volume[slots])
        for i, slot in enumerate(quoted):
            reference[slot].update_quote(float(bid[i]), float(ask[i]))
        for slot in slots:
            reference[slot].update_bar(float(price[slot]), float(price[slot]), float(price[slot]), float(volume[slot]))
        # Assert: after every step, every slot (updated or not)
        _assert_same(vector, reference)


def test_vector_when_all_shipped_symbols_in_one_group_then_equals_pandas_ta_features(bars_of) -> None:  # type: ignore[no-untyped-def]
    # Arrange: the five symbols' real bars interleaved by time, one slot each
    frames = {symbol: bars_of(symbol) for symbol in SYMBOLS}
    rows = pd.concat([f.assign(slot=i, row=np.arange(len(f))) for i, f in enumerate(frames.values())])
    rows = rows.sort_values(["timestamp", "slot"], kind="stable")
    vector = VectorFeatures(len(SYMBOLS))
    seen = [np.full((len(f), len(FEATURE_NAMES)), np.nan) for f in frames.values()]
    # Act: one call per minute (each symbol at most once)
    stamps = rows["timestamp"].to_numpy()
    cuts = np.flatnonzero(stamps[1:] != stamps[:-1]) + 1
    columns = [rows[c].to_numpy() for c in ("slot", "row", "close", "volume", "bid", "ask")]
    for slot, row, close, volume, bid, ask in zip(*(np.split(c, cuts) for c in columns), strict=True):
        slot = slot.astype(np.int64)
        quoted = ~(np.isnan(bid.astype(np.float64)) | np.isnan(ask.astype(np.float64)))
        vector.update_spread(slot[quoted], bid[quoted].astype(np.float64), ask[quoted].astype(np.float64))
        vector.update_bars(slot, close.astype(np.float64), volume.astype(np.float64))
        for s, r in zip(slot.tolist(), row.tolist(), strict=True):
            seen[s][r] = vector.values[s]
    # Assert
    for i, frame in enumerate(frames.values()):
        expected = compute_features(frame).to_numpy()[WARMUP_BARS - 1:]
        got = seen[i][WARMUP_BARS - 1:]
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_rounds_when_a_slot_repeats_then_its_bars_go_to_successive_rounds_in_order() -> None:
    slots = np.array([3, 1, 3, 0, 3, 1], dtype=np.int64)
    parts = rounds(slots)
    assert [p.tolist() for p in parts] == [[0, 1, 3], [2, 5], [4]]
    assert rounds(np.array([2, 0, 1], dtype=np.int64))[0].tolist() == [0, 1, 2]
    assert rounds(np.array([], dtype=np.int64)) == []


def test_slots_when_not_in_a_call_then_keep_their_state_exactly() -> None:
    vector = VectorFeatures(3)
    for step in range(40):
        vector.update_bars(np.array([0, 1, 2]), np.array([10.0 + step, 20.0 - step / 10, 30.0]), np.full(3, 5.0))
    before = vector.values.copy()
    vector.update_bars(np.array([1]), np.array([17.0]), np.array([9.0]))
    np.testing.assert_array_equal(np.delete(vector.values, 1, axis=0), np.delete(before, 1, axis=0))
    assert not np.array_equal(vector.values[1], before[1], equal_nan=True)
    # a constant window: Bollinger %B 0.5 and bandwidth 0, volume z 0, as in StreamingFeatures
    row = vector.values[2]
    assert row[FEATURE_NAMES.index("bb_pctb")] == 0.5 and row[FEATURE_NAMES.index("bb_bandwidth")] == 0.0
    assert row[FEATURE_NAMES.index("volume_z_20")] == 0.0
    assert np.isnan(row[SPREAD])
