"""Execution's one reconciler with a live broker: when to run, and what of it the risk actor must hear.

apply_reconcile (reconcile.py) brings the ExecutionCore to the broker's state; this adds the two
things the execution actor needs around it: it runs at start-up and again after every `Reconnected`
marker the broker delivers through poll() (events sent while its stream was down are otherwise
lost), and it returns the order updates the reconciliation applied, so the actor can publish them:
an adopted order's fill must reach the risk actor's positions. The risk actor books a fill once
per fill key, so publishing one it already heard of is harmless. A broker without a snapshot (the
in-process simulator keeps no state outside this process) has nothing to reconcile.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from actors.execution.broker import Broker
from actors.execution.core import ExecutionCore
from actors.execution.reconcile import AdoptOrder, ReconcileReport, TakeBrokerStatus, apply_reconcile
from cluster.foundation.domain.wire import OrderUpdate
from cluster.foundation.storage.repository import Repository


class BrokerReconciler:
    def __init__(self, core: ExecutionCore, repo: Repository, broker: Broker, clock: Callable[[], int]) -> None:
        self._core = core
        self._repo = repo
        self._broker = broker
        self._clock = clock
        self._due = True  # at start-up
        self.runs = 0
        self.adopted = 0
        self.last_report: ReconcileReport | None = None

    def due(self) -> bool:
        """True before the first run and after every Reconnected marker since the last run."""
        return self._due

    def reconnected(self) -> None:
        """The broker's stream connected anew: reconcile on the next loop."""
        self._due = True

    def run(self) -> list[OrderUpdate]:
        """Reconcile once; the updates it applied, for publishing. A failed run waits for the next marker."""
        self._due = False
        snapshot = self._broker.snapshot()
        if snapshot is None:
            return []
        report = apply_reconcile(self._core, self._repo, snapshot, self._local_positions(), self._clock)
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
