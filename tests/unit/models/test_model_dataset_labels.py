"""Dataset rows from the shipped minute bars: no lookahead in features, labels from t+1..t+h only."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.dataset import Segment, build_dataset, segment_rows
from models.features.spec import FEATURE_NAMES, WARMUP_BARS
from models.labels import forward_log_return, up_labels

DATA = Path(__file__).resolve().parents[3] / "data"
HORIZON = 5


def _segment(segments: tuple[Segment, ...], symbol: str) -> Segment:
    return max((s for s in segments if s.symbol == symbol), key=lambda s: len(s.bars))


def _scramble_after(bars: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    altered = bars.copy()
    future = altered.index > t
    scale = np.random.default_rng(seed).uniform(0.5, 1.5, size=int(future.sum()))
    for column in ("open", "high", "low", "close", "bid", "ask"):
        altered.loc[future, column] = altered.loc[future, column].to_numpy() * scale
    altered.loc[future, "volume"] = altered.loc[future, "volume"].to_numpy()[::-1]
    return altered


@pytest.mark.parametrize("symbol", ["SPY", "IBM", "BAC", "AIG", "AAPL"])
@pytest.mark.parametrize("cut_fraction", [0.2, 0.6])
def test_dataset_features_when_bars_after_t_change_then_no_row_at_or_before_t_changes(
    segments: tuple[Segment, ...], symbol: str, cut_fraction: float
) -> None:
    # Arrange
    original = _segment(segments, symbol)
    t = int(len(original.bars) * cut_fraction)
    altered = Segment(symbol, _scramble_after(original.bars, t, seed=t))
    # Act
    before = build_dataset([original], HORIZON)
    after = build_dataset([altered], HORIZON)
    # Assert: features at or before t are bit-identical; later ones did change
    past = before.bar_index <= t
    np.testing.assert_array_equal(before.features[past], after.features[past])
    assert not np.allclose(before.features[~past], after.features[~past], equal_nan=True)
    # labels whose window t'+1..t'+h ends at or before t are unchanged too
    settled = before.bar_index + HORIZON <= t
    np.testing.assert_array_equal(before.labels[settled], after.labels[settled])


def test_label_when_bars_outside_t_plus_1_to_t_plus_h_change_then_label_at_t_is_unchanged(
    segments: tuple[Segment, ...],
) -> None:
    # Arrange: SPY, a bar t in the middle of the session data
    bars = _segment(segments, "SPY").bars
    t = len(bars) // 2
    base = segment_rows(bars, HORIZON).forward_return[t]
    edited = bars.copy()
    outside = (edited.index < t) | (edited.index > t + HORIZON)
    edited.loc[outside, "close"] = edited.loc[outside, "close"] * 3.0
    inside = bars.copy()
    inside.loc[t + HORIZON, "close"] = inside.loc[t + HORIZON, "close"] * 1.01
    # Act
    after_outside = segment_rows(edited, HORIZON).forward_return[t]
    after_inside = segment_rows(inside, HORIZON).forward_return[t]
    # Assert
    assert after_outside == base
    assert after_inside == pytest.approx(base + math.log(1.01), abs=1e-12)


def test_label_when_read_from_the_csv_by_hand_then_equals_the_log_return_over_horizon(
    segments: tuple[Segment, ...],
) -> None:
    # Arrange: IBM closes straight from the CSV, independent of the reader and the dataset
    raw = pd.read_csv(DATA / "us_equity_minute_trade_bars.csv")
    ibm = raw[raw.symbol == "IBM"].reset_index(drop=True)
    closes = ibm.close.to_numpy()
    dataset = build_dataset([_segment(segments, "IBM")], HORIZON)
    # Act / Assert: a few rows spread over the file
    for row in (0, len(dataset) // 3, len(dataset) - 1):
        t = int(dataset.bar_index[row])
        expected = math.log(closes[t + HORIZON] / closes[t])
        assert dataset.forward_return[row] == pytest.approx(expected, abs=1e-12)
        assert dataset.labels[row] == (1.0 if expected > 0.0 else 0.0)


def test_build_dataset_when_labels_pass_the_end_then_those_rows_are_dropped_and_counted(
    segments: tuple[Segment, ...],
) -> None:
    # Act
    dataset = build_dataset(segments, HORIZON)
    report = dataset.report
    # Assert: every bar is a row, a warm-up drop or a past-the-end drop; h of the latter per segment
    assert report.bars == sum(len(s.bars) for s in segments)
    assert report.rows + report.dropped_warmup + report.dropped_past_end == report.bars
    assert report.dropped_past_end == HORIZON * len(segments)
    assert report.dropped_warmup == (WARMUP_BARS - 1) * len(segments)
    assert not np.isnan(dataset.labels).any()
    assert dataset.features.shape == (report.rows, len(FEATURE_NAMES))
    assert np.all(np.diff(dataset.ts_ns) >= 0)


def test_load_segments_when_a_symbol_has_years_between_bars_then_it_is_cut_in_two(
    segments: tuple[Segment, ...],
) -> None:
    # Assert: SPY has 2013 bars and 2023-08-03 bars in the minute file
    spy = sorted((s for s in segments if s.symbol == "SPY"), key=lambda s: int(s.bars.ts_ns.iloc[0]))
    assert len(spy) == 2
    assert pd.Timestamp(int(spy[1].bars.ts_ns.iloc[0]), tz="UTC").date().isoformat() == "2023-08-03"


def test_load_segments_when_a_split_jumps_the_raw_price_then_the_symbol_is_cut_there(
    segments: tuple[Segment, ...],
) -> None:
    # Assert: AAPL 7-for-1 on 2014-06-09, 645.57 -> ~92.7 in the raw minute bars
    aapl = sorted((s for s in segments if s.symbol == "AAPL"), key=lambda s: int(s.bars.ts_ns.iloc[0]))
    assert len(aapl) == 2
    assert aapl[0].bars.close.iloc[-1] > 600.0 and aapl[1].bars.close.iloc[0] < 100.0
    for segment in segments:
        assert np.abs(np.diff(np.log(segment.bars.close.to_numpy()))).max() <= 0.3


def test_segment_rows_when_quote_shares_the_bar_timestamp_then_spread_uses_that_quote(
    segments: tuple[Segment, ...],
) -> None:
    # Arrange: SPY 2013-10-07 13:30Z, quote bar opens at bid/ask taken from the quote CSV
    quotes = pd.read_csv(DATA / "us_equity_minute_quote_bars.csv")
    quote = quotes[(quotes.symbol == "SPY") & (quotes.timestamp == "2013-10-07T13:30:00Z")].iloc[0]
    bars = _segment(segments, "SPY").bars
    t = int(np.flatnonzero(bars.ts_ns.to_numpy() == pd.Timestamp("2013-10-07T13:30:00Z").value)[0])
    # Act
    spread = segment_rows(bars, HORIZON).features[t, FEATURE_NAMES.index("spread_bps")]
    # Assert
    mid = (quote.bid_open + quote.ask_open) / 2.0
    assert spread == pytest.approx(10_000.0 * (quote.ask_open - quote.bid_open) / mid, rel=1e-12)


def test_forward_log_return_when_horizon_exceeds_the_data_then_every_row_is_nan() -> None:
    assert np.isnan(forward_log_return(np.array([1.0, 2.0, 3.0]), 3)).all()
    with pytest.raises(ValueError, match="horizon"):
        forward_log_return(np.array([1.0, 2.0]), 0)


def test_up_labels_when_return_equals_threshold_then_not_up_and_nan_stays_nan() -> None:
    # Arrange: synthetic edge cases
    returns = np.array([0.001, 0.0005, 0.0004, -0.01, np.nan])
    # Act
    labels = up_labels(returns, threshold=0.0005)
    # Assert
    np.testing.assert_array_equal(labels[:4], [1.0, 0.0, 0.0, 0.0])
    assert np.isnan(labels[4])
