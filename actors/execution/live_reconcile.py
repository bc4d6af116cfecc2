"""When to reconcile with a live broker, and what of it the risk actor must hear.

apply_reconcile (reconcile.py) brings the ExecutionCore to the broker's state; this adds the two
things the execution actor needs around it: it runs at start-up and again whenever the broker's
trade_updates stream has connected anew (events sent while the stream was down are otherwise
lost), and it returns the order updates the reconciliation applied, so the actor can publish them:
an adopted order's fill must reach the risk actor's positions. The risk actor books a fill once
per fill_id, so publishing one it already heard of is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from actors.execution.core import ExecutionCore
from actors.execution.reconcile import (
    AdoptOrder,
    BrokerSnapshot,
    ReconcileReport,
    TakeBrokerStatus,
    apply_reconcile,
)
from cluster.foundation.repository import Repository
from cluster.foundation.wire import OrderUpdate


class BrokerReconciler:
    def __init__(self, core: ExecutionCore, repo: Repository, load_snapshot: Callable[[], BrokerSnapshot],
                 stream_connects: Callable[[], int], clock: Callable[[], int]) -> None:
        self._core = core
        self._repo = repo
        self._load_snapshot = load_snapshot
        self._stream_connects = stream_connects
        self._clock = clock
        self._seen_connects = -1
        self.runs = 0
        self.adopted = 0
        self.last_report: ReconcileReport | None = None

    def due(self) -> bool:
        """True before the first run and after every new connection of the broker's stream."""
        return self._stream_connects() != self._seen_connects

    def run(self) -> list[OrderUpdate]:
        """Reconcile once; the updates it applied, for publishing."""
        self._seen_connects = self._stream_connects()  # a failed run waits for the next connection
        report = apply_reconcile(self._core, self._repo, self._load_snapshot(), self._local_positions(), self._clock)
        self.runs += 1
        self.last_report = report
        updates: list[OrderUpdate] = []
        for action in report.actions:
            if isinstance(action, AdoptOrder):
                self.adopted += 1
                updates.append(action.update if action.update is not None else action.known)
            elif isinstance(action, TakeBrokerStatus):
                updates.append(action.update)
        return updates

    def _local_positions(self) -> dict[str, Decimal]:
        """The positions the risk actor last persisted: what 'our books' say before the missed fills."""
        return {row.symbol: row.quantity for row in self._repo.load_positions() if row.quantity != 0}
