"""Walk-forward splits in time: train < validation < test, purged so no label crosses a boundary.

Rows (sorted by time) are cut into n_splits + 2 blocks of about equal size, at timestamp
boundaries so one instant never lands in two blocks. Fold k trains on blocks 0..k (expanding)
or on block k alone (rolling), validates on block k+1 and tests on block k+2.

Purging: a row whose label window ends at or after the next block's first timestamp is removed
(train rows before validation, validation rows before test). A kept row t labelled with bars
t+1..t+h therefore has all h of them before the next block starts: a gap of >= horizon bars of
the same symbol, and no label in one part is built from prices of the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from cluster.foundation.domain.errors import BadInput

Window = Literal["expanding", "rolling"]

Rows = NDArray[np.signedinteger[Any]]  # row indices into the time-sorted dataset


@dataclass(frozen=True, slots=True)
class Split:
    """Row indices (into the time-sorted dataset) of one fold."""

    fold: int
    train: Rows
    validation: Rows
    test: Rows
    purged: int


def time_blocks(ts_ns: NDArray[np.int64], n_blocks: int) -> list[Rows]:
    """n_blocks runs of consecutive row indices of about equal size, cut where the timestamp changes."""
    ts_ns = np.asarray(ts_ns)
    if np.any(np.diff(ts_ns) < 0):
        raise BadInput("walk-forward needs rows sorted by time")
    n = ts_ns.shape[0]
    bounds = [0]
    for k in range(1, n_blocks):
        cut = int(np.searchsorted(ts_ns, ts_ns[min(n - 1, k * n // n_blocks)], side="left"))
        bounds.append(max(cut, bounds[-1]))
    bounds.append(n)
    blocks: list[Rows] = [np.arange(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    if any(len(block) == 0 for block in blocks):
        raise BadInput(f"{n} rows cannot make {n_blocks} non-empty time blocks")
    return blocks


def _purge(rows: Rows, label_end_ts_ns: NDArray[np.int64], next_start_ns: int) -> Rows:
    return rows[label_end_ts_ns[rows] < next_start_ns]


def walk_forward_splits(
    ts_ns: NDArray[np.int64], label_end_ts_ns: NDArray[np.int64], n_splits: int = 3, window: Window = "expanding"
) -> list[Split]:
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    if window not in ("expanding", "rolling"):
        raise ValueError(f"window must be 'expanding' or 'rolling', got {window!r}")
    ts_ns = np.asarray(ts_ns)
    label_end_ts_ns = np.asarray(label_end_ts_ns)
    blocks = time_blocks(ts_ns, n_splits + 2)
    splits: list[Split] = []
    for fold in range(n_splits):
        train_all = np.concatenate(blocks[: fold + 1]) if window == "expanding" else blocks[fold]
        validation_all, test = blocks[fold + 1], blocks[fold + 2]
        train = _purge(train_all, label_end_ts_ns, int(ts_ns[validation_all[0]]))
        validation = _purge(validation_all, label_end_ts_ns, int(ts_ns[test[0]]))
        if len(train) == 0 or len(validation) == 0:
            raise BadInput(f"fold {fold}: nothing left after purging labels that cross into the next block")
        purged = len(train_all) - len(train) + len(validation_all) - len(validation)
        splits.append(Split(fold, train, validation, test, purged))
    return splits
