"""A replay in one process: the pure cores of every actor, in the actors' own event order, no Ray.

`trading-cluster replay` runs this by default; the Ray cluster is for distributed replays. Both
give the same ledger (tests/integration/test_inprocess_replay.py) because this loop feeds each
core exactly what its actor sees, in the order it sees it:

* the feed cuts the source into batches (actors/market_data/batcher.py) and publishes each batch
  as one envelope per shard of symbols (`MarketDataShards`), each holding its symbols' events
  grouped by symbol, shards and symbols in first-seen order: every subscriber therefore receives a
  batch's events in that order, not in stream order;
* each signal group runs its SignalCore over its symbols' bars and quotes of batch k, then
  end_batch(k);
* risk decides batch k with the feed's marks (bars, trades) and every group's signals of k
  (actors/risk/batch.py `decide_batch`, the risk actor's own function), on the BatchGate's
  schedule (cluster/foundation/domain/batch_gate.py): the updates of batch k-2 are booked just before
  k is decided, those of k-1 are not yet (in the cluster, execution works on k-1 meanwhile);
* execution submits batch k's orders, then shows batch k's market data to the broker; the
  updates are batch k's settlement, handed to the gate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.execution.broker import Broker
from actors.execution.core import ExecutionCore
from actors.execution.sim_broker import SimBroker
from actors.market_data.batcher import MarketDataShards, batches
from actors.market_data.book import BookKeeper
from actors.market_data.synthetic import SyntheticSource, synthetic_symbol
from actors.risk.batch import apply_reports, decide_batch
from actors.risk.core import RiskCore
from actors.risk.recovery import restore_from_storage
from actors.signal.core import SignalCore
from actors.signal.strategy import RuleBasedBaseline
from cluster.app.summary import build_summary
from cluster.foundation.domain.batch_gate import BatchGate
from cluster.foundation.domain.errors import DataError
from cluster.foundation.domain.settings import Settings
from cluster.foundation.domain.wire import Bar, OrderIntent, OrderUpdate, Quote, Signal, Trade, as_dict
from cluster.foundation.runtime.actor_base import EventClock
from cluster.foundation.runtime.grouping import GroupChoice, choose_groups, offered_signal_slots
from cluster.foundation.storage.backtest_repo import (
    RunIntentLog,
    create_migrated_sqlite,
    default_schema_cache,
    is_new_database,
    sqlite_path,
)
from cluster.foundation.storage.factory import database_url, make_repository, migrate
from cluster.foundation.storage.market_files import open_source
from cluster.foundation.storage.repository import Repository
from models.protocol import Model

log = logging.getLogger("trading.backtest")

MarketItem = Bar | Quote | Trade


def universe_of(settings: Settings) -> tuple[str, ...]:
    md = settings.market_data
    if md.source == "synthetic":
        return tuple(synthetic_symbol(i) for i in range(md.synthetic_symbols))
    return settings.signal.universe


def load_model(settings: Settings) -> Model:
    """The signal actors' model (actors/signal/actor.py), without importing the actor shell."""
    if settings.signal.strategy == "rule_baseline":
        return RuleBasedBaseline(settings.signal)
    from models.registry import load_live_model

    return load_live_model(settings)


def make_broker(settings: Settings) -> Broker:
    """The execution actor's broker: the simulated one in a replay; Alpaca only when configured."""
    ex = settings.execution
    if ex.broker == "sim":
        return SimBroker(ex.slippage_bps, ex.commission_per_share, ex.commission_min)
    from actors.execution.actor import make_broker as make_live_broker

    broker, _ = make_live_broker(settings)  # its loop is driven by this thread's calls and polls
    return broker


def slice_groups(universe: Iterable[str], group_size: int) -> dict[str, list[str]]:
    """g0, g1, ...: consecutive slices of `group_size` symbols (the supervisor's plan_groups)."""
    symbols = list(universe)
    return {f"g{i // group_size}": symbols[i:i + group_size] for i in range(0, len(symbols), group_size)}


def with_final(stream: Iterator[list[MarketItem]]) -> Iterator[tuple[list[MarketItem], bool]]:
    """Each batch with final=True on the last; an empty stream still ends with one empty final batch."""
    current = next(stream, None)
    if current is None:
        yield [], True
        return
    for upcoming in stream:
        yield current, False
        current = upcoming
    yield current, True


@dataclass
class RiskStage:
    """The risk actor's work over RiskCore (actors/risk/batch.py), without sockets."""

    settings: Settings
    repo: Repository
    clock: EventClock = field(default_factory=lambda: EventClock(replay=True))
    core: RiskCore = field(init=False)
    signals_seen: int = 0
    orders_sent: int = 0
    invariant_checks: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.core = RiskCore(self.settings.risk, self.clock, self.settings.execution.client_order_prefix)
        self._restore_from_storage()

    def decide_batch(self, batch: int, market: list[MarketItem], signals: list[Signal]) -> list[OrderIntent]:
        self.signals_seen += len(signals)
        decision = decide_batch(self.core, self.clock, batch, market, signals)
        for r in decision.rejections:
            self.rejections[r.rule] = self.rejections.get(r.rule, 0) + 1
        self.orders_sent += len(decision.orders)
        self.record_events()
        return decision.orders

    def settle(self, updates: list[OrderUpdate]) -> None:
        """A settled batch's updates, as the gate hands them out (positions and P&L saved)."""
        self.invariant_checks += apply_reports(self.core, updates, self.settings.risk.check_invariants).invariant_checks
        self.record_events()
        self.repo.save_positions(self.core.portfolio.positions(), self.clock())
        self.repo.save_daily_pnl(self.core.portfolio.daily_pnl_row())

    def record_events(self) -> None:
        for event in self.core.drain_events():
            self.repo.record_risk_event(event)
            if event.event_type.startswith("breaker"):
                self.repo.save_breaker(self.core.breaker.to_record())
                log.warning("breaker %s: %s", event.event_type, event.message)

    def snapshot(self) -> dict[str, Any]:
        return {**self.core.snapshot(), "signals_seen": self.signals_seen, "orders_sent": self.orders_sent,
                "rejections": dict(self.rejections), "invariant_checks": self.invariant_checks, "done": True}

    def _restore_from_storage(self) -> None:
        """A database that already holds state (a named --database): start from it, as the actor does."""
        restore_from_storage(self.core, self.repo, replay=True, now_ns=self.clock())


class InProcessReplay:
    """Feed, signal groups, risk and execution over one repository, batch by batch."""

    def __init__(self, settings: Settings, signal_slots: int | None = None, schema_cache: Path | None = None) -> None:
        self.settings = settings
        self.schema_cache = schema_cache or default_schema_cache()
        universe = universe_of(settings)
        slots = offered_signal_slots() if signal_slots is None else signal_slots
        self.group_choice: GroupChoice = choose_groups(len(universe), settings.signal.group_size, slots)
        self.groups = slice_groups(universe, self.group_choice.group_size)
        log.info("signal groups: %s", self.group_choice.describe())
        self.data_errors: list[str] = []
        self.book_anomalies = 0
        self.books = BookKeeper(on_anomaly=self._anomaly)
        self.ledger: list[dict[str, Any]] = []
        self.bars = 0
        self.events = 0
        self.batch = 0
        self.wall_s = 0.0

    def run(self) -> dict[str, Any]:
        """Replay the configured source to its end; return the same summary as the cluster replay."""
        url = database_url(self.settings)
        fresh = is_new_database(url)
        new_file = sqlite_path(url) if fresh else None
        if new_file is not None:
            create_migrated_sqlite(new_file, self.schema_cache)
        else:
            migrate(self.settings)
        repo: Repository = make_repository(self.settings, "backtest")
        if fresh:
            repo = RunIntentLog(repo)
        try:
            stats = self._run(repo)
        finally:
            repo.flush()
            repo.close()
        return build_summary(stats, self.ledger, self.wall_s, self.groups, None, runner="in_process")

    def _run(self, repo: Repository) -> dict[str, Any]:
        s = self.settings
        model = load_model(s)
        cores = [SignalCore(g, syms, model, s.signal.allow_short) for g, syms in self.groups.items()]
        group_of = {sym: i for i, core in enumerate(cores) for sym in core.symbols}
        risk = RiskStage(s, repo)
        exec_clock = EventClock(replay=True)
        execution = ExecutionCore(make_broker(s), repo, exec_clock)
        gate: BatchGate[None, list[OrderUpdate]] = BatchGate(s.risk.pipeline_depth)  # the risk actor's schedule
        shards = MarketDataShards()
        t0 = 0.0
        cpu0 = time.process_time()
        for items, final in with_final(self._source()):
            if not t0:  # as the feed actor counts: from the first batch published (the files are read by then)
                t0 = time.perf_counter()
            k = self.batch = self.batch + 1
            self._feed(items)
            split = shards.split(items)  # the envelopes the feed sends, in their order
            # signals: each group keeps its symbols' bars and quotes from the shards it subscribes to
            pending: list[list[MarketItem]] = [[] for _ in cores]
            for msgs in split.values():  # grouped by symbol already
                for m in msgs:
                    i = group_of.get(m.symbol)
                    if i is not None:
                        pending[i].append(m)
            signals: list[Signal] = []
            for core, group_items in zip(cores, pending, strict=True):
                core.on_items([m for m in group_items if not isinstance(m, Trade)], k)
                signals += core.end_batch(k, final).signals
            # risk decides batch k once k - pipeline_depth is settled, booking the settlements it waited for
            received = [m for msgs in split.values() for m in msgs]
            gate.offer(k, "batch", None)
            release = gate.release(["batch"])
            assert release is not None and release.batch == k
            for _, settled in release.reports:
                risk.settle(settled)
            orders = risk.decide_batch(k, received, signals)
            # execution: batch k's orders first, then batch k's market data to the broker
            updates: list[OrderUpdate] = []
            if orders:
                exec_clock.advance(max(o.ts_ns for o in orders))
                updates += execution.submit(orders)
            if received:
                exec_clock.advance(received[-1].ts_ns)
                updates += execution.on_market(received)
            self.ledger += [as_dict(u) | {"batch": k} for u in updates]
            gate.settle(k, updates)
        for _, settled in gate.drain():  # after the final batch nothing waits: the last settlements
            risk.settle(settled)
        self.wall_s = time.perf_counter() - t0
        return {
            "market_data": {"bars": self.bars, "events": self.events, "batch": self.batch,
                            "data_errors": len(self.data_errors), "book_anomalies": self.book_anomalies},
            "risk": risk.snapshot(),
            "execution": {"core": execution.stats(), "done": True},
            **{f"signal-{core.group}": {"core": core.stats()} for core in cores},
            "replay": {"cpu_s": round(time.process_time() - cpu0, 3)},  # the same process, reading included
        }

    def _source(self) -> Iterator[list[MarketItem]]:
        md = self.settings.market_data
        stream: Iterable[MarketItem]
        if md.source == "synthetic":
            stream = SyntheticSource(md.synthetic_symbols, md.synthetic_events_per_s, md.synthetic_seconds,
                                     md.synthetic_seed)
        else:
            files = [self.settings.resolve(f) for f in md.files]
            stream = open_source(files, md.start, md.end, set(self.settings.signal.universe),
                                 on_error=self._data_error)
        return batches(stream, md.batch_bars)

    def _feed(self, items: list[MarketItem]) -> None:
        for item in items:
            if isinstance(item, Quote):
                self.books.apply(item)
            elif isinstance(item, Bar):
                self.bars += 1
        self.events += len(items)

    def _data_error(self, err: DataError) -> None:
        self.data_errors.append(str(err))
        log.error("bad market data row: %s", err)

    def _anomaly(self, _anomaly: object) -> None:
        self.book_anomalies += 1


def run_in_process(settings: Settings) -> dict[str, Any]:
    """`trading-cluster replay` without a cluster: the summary of the whole replay."""
    return InProcessReplay(settings).run()
