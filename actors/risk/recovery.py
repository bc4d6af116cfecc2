"""Inputs of the batches a restarted risk actor re-runs: kept by the actors that produced them."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from actors.risk.batch import Clock, MarketItem, apply_reports, decide_batch
from actors.risk.core import RiskCore
from cluster.foundation.domain.batch_gate import BatchGate
from cluster.foundation.domain.errors import DependencyDown
from cluster.foundation.domain.records import BreakerRecord, PositionRow, RiskEvent
from cluster.foundation.domain.settings import Settings
from cluster.foundation.domain.wire import OrderUpdate, Signal, SignalBatch
from cluster.foundation.runtime import ray_calls
from cluster.foundation.storage.repository import Repository

_ALL = 2**62


@dataclass
class RerunInputs:
    marks: dict[int, tuple[list[MarketItem], bool]]  # the feed's batches (quotes too: an OrderBatch may carry them)
    signals: dict[int, list[Signal]]
    reports: dict[int, list[OrderUpdate]]
    settled: int
    later_marks: dict[int, tuple[list[MarketItem], bool]]
    later_signals: list[SignalBatch]

    def batch(self, k: int) -> tuple[list[MarketItem], bool, list[Signal], list[OrderUpdate]]:
        marks, final = self.marks.get(k, ([], False))
        return marks, final, self.signals.get(k, []), self.reports.get(k, [])


@dataclass(frozen=True)
class Rerun:
    orders: int
    signals: int
    invariant_checks: int
    final_decided: bool


def rerun(core: RiskCore, clock: Clock, gate: BatchGate[object, tuple[list[OrderUpdate], bool]], inputs: RerunInputs,
          upto: int, without_signals: bool, check_invariants: bool) -> Rerun:
    """Decide batches 1..upto again on the gate's own schedule (each settlement booked just before the batch
    that waited for it), leaving the gate at upto + 1 with the later settlements held, as before the restart."""
    for k in range(1, inputs.settled + 1):
        marks, final, _, updates = inputs.batch(k)
        gate.settle(k, (updates, final))
    orders = signals = checks = 0
    final_decided = False
    for k in range(1, upto + 1):
        marks, final, batch_signals, _ = inputs.batch(k)
        gate.offer(k, "rerun", None)
        release = gate.release(["rerun"])
        assert release is not None and release.batch == k
        for _, (updates, _) in release.reports:
            checks += apply_reports(core, updates, check_invariants).invariant_checks
        used = [] if without_signals else batch_signals
        decided = decide_batch(core, clock, k, marks, used)
        orders += 0 if without_signals else len(decided.orders)
        signals += len(used)
        final_decided = final_decided or final
    return Rerun(orders, signals, checks, final_decided)


def rerun_inputs(namespace: str, groups: list[str], upto: int, timeout_s: float = 30.0) -> RerunInputs:
    from actors.signal.actor import signal_actor_name

    md = ray_calls.get_actor("market_data", namespace)
    execution = ray_calls.get_actor("execution", namespace)
    if md is None or execution is None:
        raise DependencyDown("risk recovery needs the market-data and execution actors")
    history, _ = ray_calls.call(md, "history", None, 0)
    all_marks = {k: (list(items), final) for k, items, final in history}
    marks = {k: v for k, v in all_marks.items() if k <= upto}
    later_marks = {k: v for k, v in all_marks.items() if k > upto}
    signals: dict[int, list[Signal]] = {}
    later_signals: list[SignalBatch] = []
    for g in groups:
        actor = ray_calls.get_actor(signal_actor_name(g), namespace)
        if actor is None:
            raise DependencyDown(f"risk recovery needs signal group {g}")
        batches: list[SignalBatch] = ray_calls.call(actor, "signal_history", None)
        for sb in batches:
            if sb.batch <= upto:
                signals.setdefault(sb.batch, []).extend(sb.signals)
            else:
                later_signals.append(sb)
    # Execution settles `upto` soon after it received the order batch: wait for it.
    deadline = time.monotonic() + timeout_s
    while True:
        reports, settled = ray_calls.call(execution, "reports", _ALL)  # also what it settled since
        if settled >= upto or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if settled < upto:
        raise DependencyDown(f"execution has not settled batch {upto} within {timeout_s:.0f}s")
    return RerunInputs(marks, signals, reports, settled, later_marks, later_signals)


def lost_with_execution(namespace: str, timeout_s: float = 60.0) -> bool:
    """True when the decided batches cannot be re-run: execution restarted too and lost its lockstep
    position and report history (the core node was lost), while the feed had already published."""
    md = ray_calls.get_actor("market_data", namespace)
    execution = ray_calls.get_actor("execution", namespace)
    if md is None or execution is None:
        return True
    ex = ray_calls.call(execution, "stats")
    if not (ex.get("restarted") and int(ex.get("next_batch", 1)) == 1):
        return False
    # the feed may have been lost with them: judge by what it had published once it runs again (a
    # restarted feed reports batch 0 until it has reloaded its journal)
    return feed_edge(namespace, timeout_s) > 0


def feed_edge(namespace: str, timeout_s: float) -> int:
    """The last batch the (restarted) feed has published, once it runs again."""
    md = ray_calls.get_actor("market_data", namespace)
    deadline = time.monotonic() + timeout_s
    while md is not None:
        ping = ray_calls.call(md, "ping")
        if ping.get("phase") == "running":
            return int(ray_calls.call(md, "stats")["batch"])
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    raise DependencyDown(f"risk recovery waited {timeout_s:.0f}s for the market-data actor to run again")


def broker_positions(namespace: str) -> tuple[dict[str, Decimal], dict[str, Decimal]] | None:
    """(signed quantity, average entry price) per symbol as the broker holds them; None when the broker
    keeps no state of its own. A price the broker did not give is left out (the adoption says so)."""
    execution = ray_calls.get_actor("execution", namespace)
    found = ray_calls.call(execution, "broker_positions", timeout_s=30) if execution is not None else None
    if found is None:
        return None
    quantities = {s: Decimal(held["qty"]) for s, held in found.items()}
    prices = {s: Decimal(held["avg_entry_price"]) for s, held in found.items() if held.get("avg_entry_price")}
    return quantities, prices


def adopt_broker_positions(core: RiskCore, repo: Repository, broker: Mapping[str, Decimal], now_ns: int,
                           entry_prices: Mapping[str, Decimal] | None = None) -> dict[str, tuple[Decimal, Decimal]] | None:
    """Where the books differ from the broker's positions (fills lost with a dead process), the broker is
    right: take its quantities, keep everything else, and say so in a risk event. Returns the
    differences as symbol -> (books, broker); None, changing nothing, while an order of ours is still
    working: the broker may count a fill whose report is on its way, which would then be booked twice.

    A taken position's entry price is the broker's average entry price; without one, the price the books
    had for it, else the last mark (P&L then counts from the adoption), and the risk event names which.
    Never 0: closing a position entered at 0 would book the whole sale as profit."""
    if core.pending_orders():
        return None
    held = {p.symbol: p for p in core.portfolio.positions()}
    zero = Decimal(0)
    diffs = {s: (held[s].quantity if s in held else zero, broker.get(s, zero))
             for s in sorted(set(broker) | set(held))
             if broker.get(s, zero) != (held[s].quantity if s in held else zero)}
    if not diffs:
        return diffs
    entries = {s: _adopted_entry(core, s, held.get(s), (entry_prices or {}).get(s)) for s in diffs}
    rows = [held[s] for s in sorted(held) if s not in diffs] + [
        _adopted_row(core, s, broker.get(s, zero), entries[s][0], held.get(s), now_ns) for s in sorted(diffs)]
    core.restore(rows, core.portfolio.daily_pnl_row(), core.breaker.to_record(), repo.open_intents())
    repo.record_risk_event(RiskEvent(
        event_type="positions_adopted_from_broker", severity="warning", occurred_at_ns=now_ns,
        message=f"books differed from the broker after a restart; took the broker's quantities for {sorted(diffs)}",
        metadata={s: {"books": str(a), "broker": str(b), "entry_price": str(entries[s][0]), "entry_from": entries[s][1]}
                  for s, (a, b) in diffs.items()}))
    return diffs


def _adopted_row(core: RiskCore, symbol: str, quantity: Decimal, entry: Decimal, books: PositionRow | None,
                 now_ns: int) -> PositionRow:
    """The books rebuild a position's cost as quantity x current price - unrealized P&L: both are set so that
    the cost is quantity x entry."""
    current = (books.current_price if books is not None and books.current_price > 0 else None) \
        or core.last_mark(symbol) or entry
    return PositionRow(
        symbol=symbol, quantity=quantity, entry_price=entry, current_price=current,
        unrealized_pnl=quantity * (current - entry), realized_pnl=books.realized_pnl if books is not None else Decimal(0),
        opened_at_ns=books.opened_at_ns if books is not None else now_ns, updated_at_ns=now_ns)


def _adopted_entry(core: RiskCore, symbol: str, books: PositionRow | None,
                   broker_price: Decimal | None) -> tuple[Decimal, str]:
    if broker_price is not None and broker_price > 0:
        return broker_price, "broker"
    if books is not None and books.quantity != 0 and books.entry_price > 0:
        return books.entry_price, "books"
    mark = core.last_mark(symbol)
    return (mark, "last_mark") if mark is not None and mark > 0 else (Decimal(0), "unknown")


def restore_from_storage(core: RiskCore, repo: Repository, *, replay: bool, now_ns: int) -> str:
    """A start on a database that already holds state (a whole-cluster restart, a lost core node):
    positions, the day's P&L, the breaker and the orders still open come back. Returns what was restored
    ('' when the database held nothing)."""
    positions = repo.load_positions()
    breaker = repo.load_breaker()
    intents = repo.open_intents()
    if not positions and breaker is None and not intents:
        return ""
    daily = None if replay else repo.load_daily_pnl(core.trading_date_of(now_ns))
    core.restore(positions, daily, breaker, intents)
    held = sum(1 for p in positions if p.quantity != 0)
    return f"{held} positions, breaker {breaker.state if breaker else 'closed'}, {len(intents)} open orders"


def restore_breaker(core: RiskCore, repo: Repository) -> BreakerRecord | None:
    """A breaker that was not closed comes back as it was stored; returns the record taken."""
    record = repo.load_breaker()
    if record is None or record.state == "closed":
        return None
    core.restore_breaker(record)
    logging.getLogger("trading.risk").warning("breaker restored from storage: %s (%s)", record.state, record.reason)
    return record


def signals_after(namespace: str, groups: list[str], after: int) -> list[SignalBatch]:
    """The signal batches each group has already answered after batch `after` (sent to a risk actor that
    is gone): a rebuilt risk actor needs them to decide those batches."""
    from actors.signal.actor import signal_actor_name

    out: list[SignalBatch] = []
    for g in groups:
        actor = ray_calls.get_actor(signal_actor_name(g), namespace)
        if actor is not None:
            out += [sb for sb in ray_calls.call(actor, "signal_history", None) if sb.batch > after]
    return out


def group_schedule(settings: Settings) -> list[tuple[int, list[str]]]:
    """Which groups answer from which batch, as the supervisor last wrote it (empty when unknown)."""
    from cluster.foundation.storage.factory import make_state_store

    store = make_state_store(settings)
    try:
        desired = store.load_state("supervisor") or {}
    finally:
        store.close()
    return [(int(start), list(groups)) for start, groups in desired.get("schedule", [])]


def retired_groups(namespace: str, schedule: list[tuple[int, list[str]]], upto: int) -> list[str]:
    """Groups that answered some batch <= upto and whose actors are gone (re-partitioned away): the
    signals of those batches cannot be fetched again."""
    from actors.signal.actor import signal_actor_name

    needed = {g for start, groups in schedule if start <= upto for g in groups}
    return sorted(g for g in needed if ray_calls.get_actor(signal_actor_name(g), namespace) is None)


def adopt_from_broker(namespace: str, core: RiskCore, repo: Repository,
                      now_ns: int) -> dict[str, tuple[Decimal, Decimal]] | None:
    """adopt_broker_positions with the broker's positions fetched from the execution actor ({} when the
    broker keeps no state of its own); None while an order of ours is working (ask again later)."""
    if core.pending_orders():
        return None
    broker = broker_positions(namespace)
    return {} if broker is None else adopt_broker_positions(core, repo, broker[0], now_ns, entry_prices=broker[1])


def try_adopt_from_broker(namespace: str, core: RiskCore, repo: Repository, now_ns: int) -> bool:
    """adopt_from_broker, logged: True once done (the books agreed or took the broker's quantities),
    False to try again at a later settlement (an order of ours is working, or execution did not answer)."""
    log = logging.getLogger("trading.risk")
    try:
        diffs = adopt_from_broker(namespace, core, repo, now_ns)
    except ray_calls.ActorCallError as exc:
        log.warning("broker positions not available yet (%s): the books are compared at a later settlement", exc)
        return False
    if diffs:
        log.warning("positions adopted from the broker: %s", diffs)
    return diffs is not None
