"""Broker reconciliation: after a start or a reconnect, make local order state agree with the broker.

The broker is the authority on what exists and what executed. `reconcile` is a pure function that
compares the two views and returns frozen actions plus one RiskEvent per difference:

* an order the broker has and we never knew        -> AdoptOrder (tracked from now on; its fills booked)
* an order we track whose state the broker moved on -> TakeBrokerStatus (missed fills booked once)
* an order we think open that the broker lacks      -> AskBroker (stays unacknowledged: never resent blindly)
* a position that differs after the missed fills    -> AdoptPosition (for the risk actor to take)

`apply_reconcile` is the thin driver: it restores logged intents into the ExecutionCore, runs the
function and applies its actions through ExecutionCore.restore / on_broker_updates. A missed fill
carries fill_id "<broker order id>:<cumulative qty>"; the core books fills by the part of the order's
cumulative quantity they cover (cluster/foundation/domain/orders.py), so the stream's own report of the same
shares, arriving later, books nothing again. The execution actor runs it through BrokerReconciler
(live_reconcile.py), on the broker's Reconnected marker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec

from actors.execution.alpaca_rest import AlpacaClientConfig, AlpacaRest
from actors.execution.alpaca_updates import order_to_update
from actors.execution.broker import BrokerSnapshot
from actors.execution.core import ExecutionCore
from actors.execution.order_fsm import is_terminal_status
from actors.execution.rate_limit import monotonic_budget
from cluster.foundation.domain.records import RiskEvent, Severity
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.repository import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdoptOrder:
    """`known` enters tracking (as restore() would); `update` then brings it to the broker's state."""

    known: OrderUpdate
    update: OrderUpdate | None


@dataclass(frozen=True, slots=True)
class TakeBrokerStatus:
    update: OrderUpdate


@dataclass(frozen=True, slots=True)
class AskBroker:
    client_order_id: str


@dataclass(frozen=True, slots=True)
class AdoptPosition:
    symbol: str
    broker_qty: Decimal
    expected_local_qty: Decimal  # local position plus the fills this report books


ReconcileAction = AdoptOrder | TakeBrokerStatus | AskBroker | AdoptPosition


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    actions: tuple[ReconcileAction, ...]
    events: tuple[RiskEvent, ...]

    @property
    def clean(self) -> bool:
        return not self.actions and not self.events


def reconcile(
    local_orders: Sequence[OrderUpdate],
    intents: Sequence[OrderIntent],
    broker_orders: Sequence[OrderUpdate],
    broker_positions: Mapping[str, Decimal],
    local_positions: Mapping[str, Decimal],
    *,
    now_ns: int,
    finished_ids: frozenset[str] = frozenset(),
) -> ReconcileReport:
    """Differences between local state and the broker's, as actions and events (pure).

    `finished_ids` are client_order_ids the intent log holds as finished: the broker's history of
    those is old news, not an unknown order.
    """
    local = {order.client_order_id: order for order in local_orders}
    logged = {intent.client_order_id for intent in intents} | finished_ids
    actions: list[ReconcileAction] = []
    events: list[RiskEvent] = []
    booked: dict[str, Decimal] = {}

    def event(event_type: str, severity: Severity, message: str, **metadata: Any) -> None:
        events.append(RiskEvent(event_type=event_type, severity=severity, message=message,
                                occurred_at_ns=now_ns, metadata={"source": "reconcile", **metadata}))

    def book(update: OrderUpdate) -> None:
        signed = update.last_fill_qty if update.side == "buy" else -update.last_fill_qty
        booked[update.symbol] = booked.get(update.symbol, Decimal(0)) + signed
        event("reconcile_missed_fill", "warning",
              f"{update.client_order_id}: {update.last_fill_qty} {update.symbol} @ {update.last_fill_price} "
              "filled at the broker while we were not listening; booked now",
              client_order_id=update.client_order_id, qty=str(update.last_fill_qty))

    broker_ids = set()
    for theirs in broker_orders:
        coid = theirs.client_order_id
        broker_ids.add(coid)
        ours = local.get(coid)
        if ours is None:
            if coid in finished_ids:
                continue
            adopt = _adoption(theirs)
            actions.append(adopt)
            event("reconcile_adopted_order", "warning",
                  f"broker has {coid} ({theirs.symbol} {theirs.side} {theirs.qty}, {theirs.status}) "
                  f"that {'the intent log holds but execution does not track' if coid in logged else 'we never sent'}"
                  "; adopted and tracked", client_order_id=coid, status=theirs.status, logged=coid in logged)
            if adopt.update is not None and adopt.update.last_fill_qty > 0:
                book(adopt.update)
            continue
        if theirs.filled_qty > ours.filled_qty:
            update = _with_missed_fill(theirs, ours)
            actions.append(TakeBrokerStatus(update))
            book(update)
        elif theirs.filled_qty < ours.filled_qty:
            event("reconcile_fill_regression", "critical",
                  f"{coid}: broker reports {theirs.filled_qty} filled, we booked {ours.filled_qty}; kept ours",
                  client_order_id=coid)
        elif theirs.status != ours.status:
            actions.append(TakeBrokerStatus(theirs))
            event("reconcile_status_changed", "warning",
                  f"{coid}: we had {ours.status}, broker has {theirs.status}; taking the broker's",
                  client_order_id=coid, local=ours.status, broker=theirs.status)
    for coid, ours in local.items():
        if coid not in broker_ids and not is_terminal_status(ours.status):
            actions.append(AskBroker(coid))
            event("reconcile_missing_at_broker", "warning",
                  f"{coid} ({ours.status}) is open here but not in the broker's order list; "
                  "left unacknowledged, the broker is asked before any resend", client_order_id=coid)
    for symbol in sorted(set(broker_positions) | set(local_positions) | set(booked)):
        expected = local_positions.get(symbol, Decimal(0)) + booked.get(symbol, Decimal(0))
        theirs_qty = broker_positions.get(symbol, Decimal(0))
        if theirs_qty != expected:
            actions.append(AdoptPosition(symbol, theirs_qty, expected))
            event("reconcile_position_mismatch", "critical",
                  f"{symbol}: broker holds {theirs_qty}, local books give {expected}; the broker's is adopted",
                  symbol=symbol, broker=str(theirs_qty), local=str(expected))
    return ReconcileReport(tuple(actions), tuple(events))


def _adoption(theirs: OrderUpdate) -> AdoptOrder:
    """Start an unknown order at the broker's status, or at `new` when it has filled or finished,
    so the move to its real state goes through the transition table and its fill is booked."""
    if theirs.filled_qty == 0 and not is_terminal_status(theirs.status):
        return AdoptOrder(theirs, None)
    known = msgspec.structs.replace(theirs, status="new", filled_qty=Decimal(0), filled_avg_price=None,
                                    last_fill_qty=Decimal(0), last_fill_price=None, fill_id="")
    empty = OrderUpdate(theirs.client_order_id, theirs.broker_order_id, theirs.symbol, theirs.side, "new",
                        theirs.qty, Decimal(0), theirs.ts_ns)
    return AdoptOrder(known, _with_missed_fill(theirs, empty) if theirs.filled_qty > 0 else theirs)


def _with_missed_fill(theirs: OrderUpdate, ours: OrderUpdate) -> OrderUpdate:
    qty = theirs.filled_qty - ours.filled_qty
    price = None
    if theirs.filled_avg_price is not None:
        before = ours.filled_qty * (ours.filled_avg_price or Decimal(0))
        price = (theirs.filled_qty * theirs.filled_avg_price - before) / qty
    return msgspec.structs.replace(theirs, last_fill_qty=qty, last_fill_price=price,
                                   fill_id=f"{theirs.broker_order_id}:{theirs.filled_qty}")


# ---- driver ---------------------------------------------------------------------------------------
def apply_reconcile(
    core: ExecutionCore,
    repo: Repository,
    snapshot: BrokerSnapshot,
    local_positions: Mapping[str, Decimal],
    clock: Callable[[], int],
) -> ReconcileReport:
    """Bring `core` to the broker's state; record every difference in the repository."""
    intents = repo.open_intents()
    intent_ids = {i.client_order_id for i in intents}
    at_broker = {o.client_order_id: o for o in snapshot.orders}
    untracked = [i for i in intents if core.order_status(i.client_order_id) is None]
    if untracked:  # logged intents start at the broker's status (or `new`); the rest stay unacknowledged
        starts = [_adoption(at_broker[i.client_order_id]).known for i in untracked if i.client_order_id in at_broker]
        core.restore(untracked, starts)
    finished = frozenset(c for c in at_broker if _finished_here(core, repo, c, intent_ids))
    report = reconcile(core.open_orders(), intents, snapshot.orders, snapshot.positions, local_positions,
                       now_ns=clock(), finished_ids=finished)
    for action in report.actions:
        if isinstance(action, AdoptOrder):
            core.restore([], [action.known])
            if action.update is not None:
                core.on_broker_updates([action.update])
        elif isinstance(action, TakeBrokerStatus):
            core.on_broker_updates([action.update])
    for event in report.events:
        repo.record_risk_event(event)
    return report


def _finished_here(core: ExecutionCore, repo: Repository, coid: str, open_intent_ids: set[str]) -> bool:
    """Tracked and terminal, or in the intent log as finished: the broker's record of it is history."""
    status = core.order_status(coid)
    if status is not None:
        return is_terminal_status(status)
    return coid not in open_intent_ids and repo.has_intent(coid)


async def read_snapshot(rest: AlpacaRest, closed_limit: int = 500) -> BrokerSnapshot:
    """Open and recent orders plus positions over Alpaca REST."""
    raw = await rest.list_orders("all", limit=closed_limit)
    positions = await rest.positions()
    orders = [u for u in (order_to_update(o) for o in raw) if u is not None]
    prices = {p["symbol"]: price for p in positions if (price := _entry_price(p)) is not None}
    return BrokerSnapshot(orders, {p["symbol"]: _signed_qty(p) for p in positions}, prices)


async def fetch_alpaca_snapshot(config: AlpacaClientConfig, closed_limit: int = 500) -> BrokerSnapshot:
    """read_snapshot with its own short-lived session (no broker running)."""
    async with aiohttp.ClientSession() as session:
        rest = AlpacaRest(config, session, monotonic_budget(config.rate_limit, config.rate_window_s))
        return await read_snapshot(rest, closed_limit)


def _entry_price(position: dict[str, Any]) -> Decimal | None:
    """The position's average entry price; None (and a warning) when the broker's value is not a positive number."""
    try:
        price = Decimal(str(position.get("avg_entry_price")))
    except ArithmeticError:
        price = Decimal("NaN")
    if price.is_finite() and price > 0:
        return price
    log.warning("broker position %s has no usable avg_entry_price (%r)", position.get("symbol"),
                position.get("avg_entry_price"))
    return None


def _signed_qty(position: dict[str, Any]) -> Decimal:
    """Alpaca sends short quantities negative already; the side decides, whatever the sign."""
    qty = abs(Decimal(str(position["qty"])))
    return -qty if position.get("side") == "short" else qty


def load_alpaca_snapshot(config: AlpacaClientConfig) -> BrokerSnapshot:
    """Synchronous form for actor start-up code (must not run inside an event loop)."""
    return asyncio.run(fetch_alpaca_snapshot(config))
