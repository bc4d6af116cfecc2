"""Execution core: the intent log, one order state machine per order, and the broker, with no I/O of its own.

The guarantees it keeps:

* An intent is written to the repository before the broker sees it, so after a crash every order
  that may exist at the broker is in the intent log.
* A client_order_id is sent at most once. A repeat (a batch replayed after a restart, a retried
  message) is suppressed and counted. After a send whose outcome is unknown (timeout, broker
  down) the core asks the broker for the order before it ever sends it again.
* Every broker update is checked against ORDER_TRANSITIONS. This is the one de-duplication of
  order reports (broker adapters only translate): a repeated update (a fill whose shares are all
  booked already, or a status the order has or has had, without more filled quantity: the same
  change seen in a REST answer and on the stream) is ignored and counted; a report of the status the order already has, carrying a fill, is no transition; a
  transition the table does not allow becomes a critical risk event, never a silent drop. A fill
  in such an update is still booked: the broker is the authority on executions, and losing one
  would corrupt positions. Fills are booked by cumulative quantity (cluster.foundation.domain.orders.FillLedger),
  so reports that arrive out of order lose no shares.
* An update for an order this execution did not send (a broker's replacement order, an order
  placed by hand in the account) is adopted: tracked, recorded and passed on, so its fills reach
  the positions; a warning names it. A report of one of our own orders that finished before a
  restart is old news: the positions saved then hold it (a warning names it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import msgspec

from actors.execution.broker import Broker, MarketItem, Reconnected
from actors.execution.order_fsm import OrderFSM
from cluster.foundation.domain.errors import DependencyDown, InvalidTransition, OrderRejected, TemporaryError
from cluster.foundation.domain.orders import TERMINAL_STATUSES, FillLedger
from cluster.foundation.domain.records import RiskEvent, Severity
from cluster.foundation.domain.wire import OrderIntent, OrderStatus, OrderUpdate
from cluster.foundation.storage.repository import Repository


@runtime_checkable
class IntentLookup(Protocol):
    """Optional repository capability: does the intent log hold this id, open or finished?

    Repository.open_intents() lists only unfinished orders, so without this an intent whose order
    already finished before a restart would be sent again (a live broker refuses the repeated
    client_order_id; the simulator would not see it, because it restarts empty too).
    """

    def has_intent(self, client_order_id: str) -> bool: ...


@dataclass(slots=True)
class _Tracked:
    intent: OrderIntent | None  # None: an order found at the broker without an intent of ours
    fsm: OrderFSM
    last: OrderUpdate | None = None


class ExecutionCore:
    """Sends approved intents once, follows each order's life, books fills; Ray-free and I/O-free."""

    def __init__(self, broker: Broker, repo: Repository, clock: Callable[[], int]) -> None:
        self._broker = broker
        self._repo = repo
        self._clock = clock
        self._orders: dict[str, _Tracked] = {}
        self._known_ids: set[str] = {intent.client_order_id for intent in repo.open_intents()}
        self._unacknowledged: dict[str, OrderIntent] = {}
        self._fills = FillLedger()
        self._errors: list[RiskEvent] = []
        self._counts: Counter[str] = Counter()

    # ---------------------------------------------------------------- commands

    def submit(self, intents: Sequence[OrderIntent]) -> list[OrderUpdate]:
        """Record, then send, every intent not seen before; return the broker's updates."""
        fresh: dict[str, OrderIntent] = {}
        for intent in intents:
            coid = intent.client_order_id
            if coid in fresh or self._is_known(coid):
                self._counts["duplicates_suppressed"] += 1
                continue
            fresh[coid] = intent
        if not fresh:
            return []
        self._repo.record_intents(list(fresh.values()))  # one durable write for the batch, before any send
        updates: list[OrderUpdate] = []
        for coid, intent in fresh.items():
            self._known_ids.add(coid)
            self._orders[coid] = _Tracked(intent, OrderFSM())
            self._fills.expect(coid)
            self._counts["submitted"] += 1
            updates.extend(self._send(intent))
        return updates

    def retry_unacknowledged(self) -> list[OrderUpdate]:
        """For each send with an unknown outcome: adopt the broker's order if it exists, else send again."""
        updates: list[OrderUpdate] = []
        for coid, intent in list(self._unacknowledged.items()):
            try:
                existing = self._broker.get_order(coid)
            except (TemporaryError, DependencyDown) as exc:
                self._counts["lookup_failures"] += 1
                self._error("order_lookup_failed", "warning", f"{coid}: {exc}", client_order_id=coid)
                continue
            if existing is not None:
                del self._unacknowledged[coid]
                updates.extend(self._apply([existing]))
            else:
                self._counts["resent"] += 1
                updates.extend(self._send(intent))
        return updates

    def cancel(self, client_order_id: str) -> list[OrderUpdate]:
        return self._apply(self._broker.cancel(client_order_id))

    def cancel_all(self) -> list[OrderUpdate]:
        return self._apply(self._broker.cancel_all())

    def on_market(self, items: Sequence[MarketItem]) -> list[OrderUpdate]:
        """Let the broker match market data (simulator) and apply the fills it reports."""
        return self._apply(self._broker.on_market(items))

    def poll(self) -> tuple[list[OrderUpdate], bool]:
        """Apply the updates a live broker's stream delivered since the last poll; True when the stream
        connected anew meanwhile (a Reconnected marker: reports may be lost, reconcile)."""
        applied: list[OrderUpdate] = []
        reconnected = False
        for item in self._broker.poll():
            if isinstance(item, Reconnected):
                reconnected = True
            else:
                applied.extend(self._apply_one(item))
        return applied, reconnected

    @property
    def has_unacknowledged(self) -> bool:
        """Sends whose outcome is unknown wait for retry_unacknowledged()."""
        return bool(self._unacknowledged)

    def on_broker_updates(self, updates: Sequence[OrderUpdate]) -> list[OrderUpdate]:
        """Validate and record updates from the broker; return those that changed something."""
        return self._apply(updates)

    def restore(self, open_intents: list[OrderIntent], broker_open: list[OrderUpdate]) -> None:
        """Rebuild state after a restart from the intent log and the broker's open orders.

        The broker's state wins. An open intent the broker does not list as open may have
        finished, or may never have been sent: retry_unacknowledged() asks before resending.
        """
        at_broker = {update.client_order_id for update in broker_open}
        for intent in open_intents:
            coid = intent.client_order_id
            self._known_ids.add(coid)
            tracked = self._orders.setdefault(coid, _Tracked(intent, OrderFSM()))
            if coid not in at_broker and tracked.last is None:
                self._unacknowledged[coid] = intent
        for update in broker_open:
            coid = update.client_order_id
            found = self._orders.get(coid)
            if found is not None:
                tracked = found
            else:
                self._counts["unknown_orders"] += 1
                self._error(
                    "orphan_broker_order", "warning",
                    f"broker works {coid} ({update.symbol} {update.side} {update.qty}) without an intent in the log",
                    client_order_id=coid,
                )
                tracked = self._orders[coid] = _Tracked(None, OrderFSM())
                self._known_ids.add(coid)
            tracked.fsm = OrderFSM(update.status)
            tracked.last = update
            self._fills.seed(coid, update.filled_qty)
            self._fills.expect(coid)
            self._unacknowledged.pop(coid, None)
            self._repo.record_order_update(update)
        self._counts["restored"] += len(at_broker | {intent.client_order_id for intent in open_intents})

    # ---------------------------------------------------------------- queries

    def open_orders(self) -> list[OrderUpdate]:
        """Latest state of every order not yet terminal; unacknowledged ones appear as pending_new."""
        return [
            tracked.last if tracked.last is not None else _pending_view(tracked.intent)
            for tracked in self._orders.values()
            if not tracked.fsm.is_terminal and (tracked.last is not None or tracked.intent is not None)
        ]

    def order_status(self, client_order_id: str) -> OrderStatus | None:
        tracked = self._orders.get(client_order_id)
        return tracked.fsm.state if tracked is not None else None

    def take_errors(self) -> list[RiskEvent]:
        """Error events since the last call (already written to the repository), for logs and alerts."""
        errors, self._errors = self._errors, []
        return errors

    def stats(self) -> dict[str, int]:
        names = (
            "submitted", "duplicates_suppressed", "send_failures", "lookup_failures", "resent", "fills",
            "filled", "rejected", "canceled", "expired", "replaced", "duplicate_updates",
            "invalid_transitions", "unknown_orders", "adopted_orders", "inferred_fills", "restored",
        )
        result = {name: self._counts[name] for name in names}
        result["open"] = sum(1 for tracked in self._orders.values() if not tracked.fsm.is_terminal)
        result["unacknowledged"] = len(self._unacknowledged)
        return result

    # ---------------------------------------------------------------- internals

    def _is_known(self, coid: str) -> bool:
        if coid in self._orders or coid in self._known_ids:
            return True
        return isinstance(self._repo, IntentLookup) and self._repo.has_intent(coid)

    def _send(self, intent: OrderIntent) -> list[OrderUpdate]:
        coid = intent.client_order_id
        try:
            updates = self._broker.submit(intent)
        except OrderRejected as exc:
            updates = [self._rejection(intent, f"{exc.code}: {exc}")]
        except (TemporaryError, DependencyDown) as exc:
            self._unacknowledged[coid] = intent
            self._counts["send_failures"] += 1
            self._error(
                "order_send_failed", "warning",
                f"{coid}: {exc}; outcome unknown, the broker is asked before any resend",
                client_order_id=coid,
            )
            return []
        self._unacknowledged.pop(coid, None)
        return self._apply(updates)

    def _apply(self, updates: Sequence[OrderUpdate]) -> list[OrderUpdate]:
        applied: list[OrderUpdate] = []
        for update in updates:
            applied.extend(self._apply_one(update))
        return applied

    def _apply_one(self, update: OrderUpdate) -> list[OrderUpdate]:
        """The updates one broker report yields, oldest first: fills inferred from its cumulative, then itself."""
        coid = update.client_order_id
        tracked = self._orders.get(coid)
        if tracked is None and self._is_known(coid):  # ours, finished before a restart: booked then
            self._counts["duplicate_updates"] += 1
            self._error("report_for_finished_order", "warning", f"{coid}: {update.status} reported after a restart "
                        "for an order finished before it; not booked again", client_order_id=coid)
            return []
        if tracked is None:
            self._fills.expect(coid)
        taken = self._fills.take(update)
        out = [self._inferred(update, lo, hi, price) for lo, hi, price in taken.holes]
        if tracked is None:
            return [*out, self._adopt(update)]
        has_fill = update.last_fill_qty > 0
        before = tracked.fsm.state
        if taken.late:  # its shares came with a later report's cumulative: only its commission is news
            self._book_fill(update)
            fee = msgspec.structs.replace(update, status=before, last_fill_qty=Decimal(0), last_fill_price=None)
            return [*out, fee] if update.commission > 0 else out
        if has_fill and taken.new <= 0 or not has_fill and not out and _is_old_news(tracked, update):
            self._counts["duplicate_updates"] += 1
            return out
        known_filled = tracked.last.filled_qty if tracked.last is not None else Decimal(0)
        if has_fill and update.filled_qty < known_filled:  # an older report with a fill: only the fill is news
            late = msgspec.structs.replace(update, status=before)
            self._book_fill(late)
            return [*out, late]
        if update.status == before:  # the same status again, with a fill: no transition
            after = before
        else:
            try:
                after = tracked.fsm.apply(update.status)
            except InvalidTransition as exc:
                self._counts["invalid_transitions"] += 1
                self._error(
                    "invalid_order_transition", "critical",
                    f"{coid}: broker reported {exc}{' (its fill is booked)' if has_fill else ''}; order state kept "
                    f"as {before}", client_order_id=coid, broker_order_id=update.broker_order_id, ts_ns=update.ts_ns,
                )
                if has_fill:
                    self._book_fill(update)
                    out.append(update)
                return out
        recorded = update if after == update.status else msgspec.structs.replace(update, status=after)
        tracked.last = recorded
        self._repo.record_order_update(recorded)
        if has_fill:
            self._book_fill(recorded)
        if after != before and after in TERMINAL_STATUSES:
            self._counts[after] += 1
        return [*out, recorded]

    def _inferred(self, update: OrderUpdate, start: Decimal, end: Decimal, price: Decimal) -> OrderUpdate:
        """A fill the broker's cumulative quantity shows before its own report: booked now, its report adds nothing."""
        self._counts["inferred_fills"] += 1
        self._error(
            "fill_inferred", "warning", f"{update.client_order_id}: the broker reports {update.filled_qty} filled; "
            f"shares {start}..{end} have no report yet and are booked at {price}, the price the average implies",
            client_order_id=update.client_order_id, qty=str(end - start), price=str(price),
        )
        return msgspec.structs.replace(
            update, status="partially_filled", filled_qty=end, last_fill_qty=end - start, last_fill_price=price,
            commission=Decimal(0), fill_id=f"{update.client_order_id}:{start}-{end}:inferred",
            reason="booked from the broker's cumulative filled quantity",
        )

    def _adopt(self, update: OrderUpdate) -> OrderUpdate:
        """Track an order this execution never sent (a replacement, an order placed by hand) and pass it on."""
        coid = update.client_order_id
        self._counts["adopted_orders"] += 1
        self._error(
            "adopted_broker_order", "warning",
            f"broker reports {update.status} for {coid} ({update.symbol} {update.side} {update.qty}), which this "
            "execution never sent: adopted, its fills are booked", client_order_id=coid,
        )
        self._orders[coid] = _Tracked(None, OrderFSM(update.status), update)
        self._known_ids.add(coid)
        self._repo.record_order_update(update)
        if update.last_fill_qty > 0:
            self._book_fill(update)
        return update

    def _book_fill(self, update: OrderUpdate) -> None:
        self._repo.record_fill(update)
        self._counts["fills"] += 1

    def _rejection(self, intent: OrderIntent, reason: str) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=intent.client_order_id, broker_order_id="", symbol=intent.symbol,
            side=intent.side, status="rejected", qty=intent.qty, filled_qty=Decimal(0),
            ts_ns=self._clock(), correlation_id=intent.correlation_id, reason=reason,
        )

    def _error(self, event_type: str, severity: Severity, message: str, **metadata: Any) -> None:
        event = RiskEvent(
            event_type=event_type, severity=severity, message=message,
            occurred_at_ns=self._clock(), metadata=metadata,
        )
        self._errors.append(event)
        self._repo.record_risk_event(event)


def _is_old_news(tracked: _Tracked, update: OrderUpdate) -> bool:
    """The same change again (a live broker sends it in its REST answer and on its stream, in either
    order): a status the order is in or has been in, with no more filled than known."""
    known_filled = tracked.last.filled_qty if tracked.last is not None else Decimal(0)
    if update.status == tracked.fsm.state:
        return update.filled_qty == known_filled
    return tracked.fsm.has_passed(update.status) and update.filled_qty <= known_filled


def _pending_view(intent: OrderIntent | None) -> OrderUpdate:
    assert intent is not None  # open_orders() filters orders with neither an intent nor an update
    return OrderUpdate(
        client_order_id=intent.client_order_id, broker_order_id="", symbol=intent.symbol, side=intent.side,
        status="pending_new", qty=intent.qty, filled_qty=Decimal(0), ts_ns=intent.ts_ns,
        correlation_id=intent.correlation_id,
    )
