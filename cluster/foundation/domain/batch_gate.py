"""When a stage may act on batch k: the one rule risk, execution and the one-process replay share.

Pure: no sockets, no Ray, no clock. A stage acts on batches in order, 1, 2, 3, ... Batch k needs
some *parts* (risk: the feed's market data and every signal group's SignalBatch; execution: risk's
OrderBatch) and, for a stage that waits on a downstream one, the *settlement* of an earlier batch.

The pipeline: with depth d, batch k may be acted on once batch k - d is settled. Risk runs at
risk.pipeline_depth (default PIPELINE_DEPTH = 2), so it decides k + 1 while execution works on k; the orders of k are still
pending at risk then, and pending quantity counts toward every limit (actors/risk/core.py).

Determinism: a settlement's report is handed out exactly when it is needed, never when it happens
to arrive. The reports of batch j are released with batch j + d, before it is acted on, and no
earlier even if they are already here. So the state risk decides batch k in depends on the data
alone, whatever the message timing, and the one-process replay (cluster/app/backtest.py) gets the
same schedule by putting the same gate in its loop. Once the final batch has been acted on, no
decision waits any more: `drain` hands out every report as it comes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

PIPELINE_DEPTH: Final = 2  # risk decides k once k - 2 is settled: k + 1 is decided while k executes


@dataclass(frozen=True, slots=True)
class Release[P, R]:
    """Batch `batch` may be acted on now: first apply `reports` (settled batches, in order), then act."""

    batch: int
    parts: dict[str, P]
    reports: list[tuple[int, R]]


@dataclass
class BatchGate[P, R]:
    """Collects the parts of upcoming batches and settlement reports; releases one batch at a time.

    `depth` 0: no settlement is awaited (execution). `next_batch` is the batch to act on next;
    `applied` the last settled batch whose report was handed out; `settled` the last settled batch
    whose report is here (`applied` <= `settled`)."""

    depth: int
    next_batch: int = 1
    applied: int = 0
    settled: int = 0
    _parts: dict[int, dict[str, P]] = field(default_factory=dict)
    _reports: dict[int, R] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.depth < 0:
            raise ValueError(f"pipeline depth must be >= 0, got {self.depth}")
        self.settled = max(self.settled, self.applied)

    # ---- inputs ------------------------------------------------------------------------------------

    def offer(self, batch: int, part: str, value: P) -> bool:
        """Keep `value` as part `part` of `batch`; False for a batch acted on already or a part already here."""
        if batch < self.next_batch:
            return False
        parts = self._parts.setdefault(batch, {})
        if part in parts:
            return False
        parts[part] = value
        return True

    def has(self, batch: int, part: str) -> bool:
        return part in self._parts.get(batch, {})

    def settle(self, batch: int, report: R) -> bool:
        """Batch `batch` is settled with `report`; False for a settlement already here (a repeat)."""
        if batch <= self.settled or batch in self._reports:
            return False
        self._reports[batch] = report
        while self.settled + 1 in self._reports:
            self.settled += 1
        return True

    # ---- decisions ---------------------------------------------------------------------------------

    def missing(self, needs: Iterable[str]) -> list[str]:
        """What batch `next_batch` still waits for: its missing parts, then 'settled <batch>'."""
        k = self.next_batch
        got = self._parts.get(k, {})
        out = [part for part in needs if part not in got]
        if self.depth and self.settled < k - self.depth:
            out.append(f"settled {k - self.depth}")
        return out

    def release(self, needs: Iterable[str]) -> Release[P, R] | None:
        """The next batch with the reports to apply before it, or None while something is missing."""
        if self.missing(needs):
            return None
        k = self.next_batch
        reports = self._take_reports(k - self.depth) if self.depth else []
        parts = self._parts.pop(k, {})
        self.next_batch = k + 1
        return Release(k, parts, reports)

    def drain(self) -> list[tuple[int, R]]:
        """Every report here not handed out yet, in order: for when no decision waits on them (the end)."""
        return self._take_reports(self.settled)

    def restart_at(self, next_batch: int, applied: int) -> None:
        """Continue at `next_batch` with reports up to `applied` taken (recovery); later inputs are kept."""
        self.next_batch = next_batch
        self.applied = applied
        self.settled = max(self.settled, applied)
        for k in [k for k in self._parts if k < next_batch]:
            del self._parts[k]
        for j in [j for j in self._reports if j <= applied]:
            del self._reports[j]

    def _take_reports(self, upto: int) -> list[tuple[int, R]]:
        out: list[tuple[int, R]] = []
        while self.applied < min(upto, self.settled):
            self.applied += 1
            out.append((self.applied, self._reports.pop(self.applied)))
        return out
