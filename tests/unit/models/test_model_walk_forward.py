"""Walk-forward splits on the real minute dataset: ordered in time, disjoint, purged by >= horizon bars."""

from __future__ import annotations

import numpy as np
import pytest

from cluster.foundation.domain.errors import BadInput
from models.dataset import Dataset
from models.walk_forward import time_blocks, walk_forward_splits

HORIZON = 5


def _min_gap_in_bars(dataset: Dataset, before: np.ndarray, after: np.ndarray) -> int:
    """Smallest bar distance, within one segment, from a row of `before` to a later row of `after`."""
    gaps = []
    for segment in np.unique(dataset.segment[before]):
        last = dataset.bar_index[before][dataset.segment[before] == segment].max()
        later = dataset.bar_index[after][dataset.segment[after] == segment]
        if later.size:
            gaps.append(int(later.min() - last))
    return min(gaps)


@pytest.mark.parametrize("window", ["expanding", "rolling"])
def test_splits_when_built_then_train_before_validation_before_test_without_overlap(
    dataset: Dataset, window: str
) -> None:
    # Act
    splits = walk_forward_splits(dataset.ts_ns, dataset.label_end_ts_ns, n_splits=3, window=window)  # type: ignore[arg-type]
    # Assert
    assert [s.fold for s in splits] == [0, 1, 2]
    for split in splits:
        ts = dataset.ts_ns
        assert ts[split.train].max() < ts[split.validation].min()
        assert ts[split.validation].max() < ts[split.test].min()
        assert not set(split.train) & set(split.validation)
        assert not set(split.validation) & set(split.test)
        # no label window reaches into the next part
        assert dataset.label_end_ts_ns[split.train].max() < ts[split.validation].min()
        assert dataset.label_end_ts_ns[split.validation].max() < ts[split.test].min()


def test_splits_when_purged_then_each_symbol_has_more_than_horizon_bars_between_parts(dataset: Dataset) -> None:
    # Act
    splits = walk_forward_splits(dataset.ts_ns, dataset.label_end_ts_ns, n_splits=3)
    # Assert: last train bar t, first validation bar >= t + h + 1, so the h label bars lie in between
    for split in splits:
        assert split.purged > 0
        assert _min_gap_in_bars(dataset, split.train, split.validation) > HORIZON
        assert _min_gap_in_bars(dataset, split.validation, split.test) > HORIZON


def test_splits_when_expanding_then_each_fold_trains_on_more_rows_and_tests_later(dataset: Dataset) -> None:
    splits = walk_forward_splits(dataset.ts_ns, dataset.label_end_ts_ns, n_splits=3, window="expanding")
    assert len(splits[0].train) < len(splits[1].train) < len(splits[2].train)
    assert dataset.ts_ns[splits[0].test].min() < dataset.ts_ns[splits[1].test].min() < dataset.ts_ns[splits[2].test].min()


def test_time_blocks_when_rows_share_a_timestamp_then_they_stay_in_one_block() -> None:
    # Arrange: synthetic timestamps with a tie exactly where an even cut would fall
    ts = np.array([1, 2, 3, 3, 3, 4, 5, 6])
    # Act
    blocks = time_blocks(ts, 2)
    # Assert
    assert [list(ts[b]) for b in blocks] == [[1, 2], [3, 3, 3, 4, 5, 6]]


def test_splits_when_too_few_rows_for_the_blocks_then_bad_input_names_the_count() -> None:
    ts = np.array([1, 1, 1, 2])
    with pytest.raises(BadInput, match="4 rows cannot make 5"):
        walk_forward_splits(ts, ts + 1, n_splits=3)


def test_splits_when_rows_are_not_time_ordered_then_bad_input() -> None:
    ts = np.array([3, 2, 1, 4, 5, 6])
    with pytest.raises(BadInput, match="sorted by time"):
        walk_forward_splits(ts, ts + 1, n_splits=1)
