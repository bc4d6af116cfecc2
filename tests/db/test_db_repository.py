"""SqlRepository against a real database on both backends: idempotent writes, durable intents,
snapshots, and a restart that restores state. Prices come from the shipped IBM trade ticks."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select

from cluster.foundation.domain.records import AuditRecord, BreakerRecord, DailyPnlRow, PositionRow, RiskEvent
from cluster.foundation.domain.settings import REPO_ROOT
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.db import SqlRepository
from cluster.foundation.storage.db import models as m
from cluster.foundation.storage.db.engine import make_engine
from cluster.foundation.storage.db.journal import Journal
from cluster.foundation.storage.db.ops import AuditOp, FillOp

T0 = 1_381_152_600_000_000_000  # 2013-10-07T13:30:00Z


@pytest.fixture(scope="module")
def ibm_ticks() -> list[tuple[int, Decimal]]:
    """(offset ns from the first tick, price) of the first real IBM prints after the open."""
    path = REPO_ROOT / "data" / "us_equity_trade_ticks_IBM_2013-10-07.csv"
    with path.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["timestamp"] >= "2013-10-07T13:30"][:50]
    return [(i * 1_000_000, Decimal(r["price"])) for i, r in enumerate(rows)]


@pytest.fixture
def repo(migrated_url: str, tmp_path: Path) -> Iterator[SqlRepository]:
    repository = SqlRepository(migrated_url, tmp_path / "journal", read_timeout_s=20)
    yield repository
    repository.close()


def _count(url: str, model: type[m.Base]) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model)).scalar_one()
    finally:
        engine.dispose()


def _intent(coid: str, price: Decimal, ts: int = T0) -> OrderIntent:
    return OrderIntent(client_order_id=coid, symbol="IBM", side="buy", qty=Decimal(100), order_type="limit",
                       time_in_force="day", ts_ns=ts, batch=1, correlation_id=f"IBM@{ts}", limit_price=price)


def _update(coid: str, status: str, ts: int, price: Decimal, filled: int = 0, fill_id: str = "") -> OrderUpdate:
    return OrderUpdate(client_order_id=coid, broker_order_id=f"b-{coid}", symbol="IBM", side="buy",
                       status=status, qty=Decimal(100), filled_qty=Decimal(filled), ts_ns=ts,  # type: ignore[arg-type]
                       filled_avg_price=price if filled else None, last_fill_qty=Decimal(filled),
                       last_fill_price=price if filled else None, commission=Decimal("0.5"), fill_id=fill_id)


def test_record_intent_when_it_returns_then_another_connection_sees_it(
    repo: SqlRepository, migrated_url: str, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Act: no flush, no close: durable means committed on return
    repo.record_intent(_intent("tc-IBM-1", ibm_ticks[0][1]))

    # Assert
    assert _count(migrated_url, m.OrderIntentRow) == 1


def test_record_intents_when_a_batch_returns_then_every_intent_is_committed_in_one_transaction(
    repo: SqlRepository, migrated_url: str, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Arrange: count the commits of every engine while the batch is written
    commits: list[object] = []

    def on_commit(conn: object) -> None:
        commits.append(conn)

    intents = [_intent(f"tc-IBM-{i}", price, T0 + offset) for i, (offset, price) in enumerate(ibm_ticks[:8])]
    event.listen(Engine, "commit", on_commit)
    try:
        # Act
        repo.record_intents([*intents, intents[0]])  # a repeated id keeps the first intent
    finally:
        event.remove(Engine, "commit", on_commit)

    # Assert: durable on return, one wait for the disk
    assert len(commits) == 1
    assert _count(migrated_url, m.OrderIntentRow) == 8
    assert all(repo.has_intent(i.client_order_id) for i in intents)


def test_writes_when_repeated_then_no_row_is_duplicated(
    repo: SqlRepository, migrated_url: str, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Arrange
    offset, price = ibm_ticks[1]
    fill = _update("tc-IBM-2", "filled", T0 + offset, price, filled=100, fill_id="fill-2")
    event = RiskEvent(event_type="order_rejected", severity="warning", message="price band", occurred_at_ns=T0,
                      metadata={"symbol": "IBM", "price": str(price)})
    audit = AuditRecord(action="reset_breaker", caller="ops", reason="manual", occurred_at_ns=T0)

    # Act
    for _ in range(3):
        repo.record_intent(_intent("tc-IBM-2", price))
        repo.record_order_update(fill)
        repo.record_fill(fill)
        repo.record_risk_event(event)
        repo.record_audit(audit)
        repo.flush()

    # Assert
    counts = [_count(migrated_url, t) for t in (m.OrderIntentRow, m.Order, m.TradeFill, m.RiskEventRow, m.AuditLogRow)]
    assert counts == [1, 1, 1, 1, 1]


def test_order_update_when_older_arrives_after_newer_then_newer_status_stays(
    repo: SqlRepository, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Arrange
    offset, price = ibm_ticks[2]
    repo.record_intent(_intent("tc-IBM-3", price, T0 + offset))
    new = _update("tc-IBM-3", "new", T0 + offset + 1_000, price)
    filled = _update("tc-IBM-3", "filled", T0 + offset + 2_000, price, filled=100, fill_id="fill-3")

    # Act: the late "new" arrives once in the same batch and once in a later one
    repo.record_order_update(filled)
    repo.record_order_update(new)
    repo.flush()
    repo.record_order_update(new)

    # Assert: a filled order is no longer open
    assert repo.open_intents() == []


def test_open_intents_when_some_orders_are_terminal_then_only_live_ones_are_returned(
    repo: SqlRepository, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Arrange
    intents = [_intent(f"tc-IBM-{i}", p, T0 + off) for i, (off, p) in enumerate(ibm_ticks[:4])]
    for intent in intents:
        repo.record_intent(intent)
    repo.record_order_update(_update(intents[0].client_order_id, "filled", T0 + 10**9, ibm_ticks[0][1], 100, "f0"))
    repo.record_order_update(_update(intents[1].client_order_id, "canceled", T0 + 10**9, ibm_ticks[1][1]))
    repo.record_order_update(_update(intents[2].client_order_id, "partially_filled", T0 + 10**9, ibm_ticks[2][1], 40))

    # Act
    open_ids = [i.client_order_id for i in repo.open_intents()]

    # Assert: the working order and the never-sent one
    assert open_ids == [intents[2].client_order_id, intents[3].client_order_id]
    assert repo.open_intents()[1] == intents[3]


def test_save_positions_when_a_symbol_is_closed_then_snapshot_no_longer_holds_it(
    repo: SqlRepository, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Arrange
    price = ibm_ticks[5][1]
    ibm = PositionRow(symbol="IBM", quantity=Decimal(100), entry_price=price, current_price=ibm_ticks[6][1],
                      unrealized_pnl=(ibm_ticks[6][1] - price) * 100, realized_pnl=Decimal(0),
                      opened_at_ns=T0, updated_at_ns=T0 + 10**9)
    spy = PositionRow(symbol="SPY", quantity=Decimal(-10), entry_price=Decimal("167.44"),
                      current_price=Decimal("167.44"), unrealized_pnl=Decimal(0), realized_pnl=Decimal("-1.25"),
                      opened_at_ns=T0, updated_at_ns=T0)

    # Act
    repo.save_positions([ibm, spy], T0)
    repo.save_positions([ibm], T0 + 10**9)

    # Assert
    assert repo.load_positions() == [ibm]


def test_restart_when_repository_is_reopened_then_state_is_restored(
    migrated_url: str, tmp_path: Path, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Arrange
    price = ibm_ticks[7][1]
    position = PositionRow(symbol="IBM", quantity=Decimal(100), entry_price=price, current_price=price,
                           unrealized_pnl=Decimal(0), realized_pnl=Decimal("12.5"), opened_at_ns=T0,
                           updated_at_ns=T0)
    pnl = DailyPnlRow(trading_date="2013-10-07", realized_pnl=Decimal("12.5"), unrealized_pnl=Decimal("-3.1"),
                      total_pnl=Decimal("9.4"), trade_count=3, winning_trades=2, losing_trades=1)
    tripped = BreakerRecord(state="open", reason="daily loss", changed_by="risk", changed_at_ns=T0,
                            trading_date="2013-10-07")
    reduced = BreakerRecord(state="reducing", reason="manual reset", changed_by="ops", changed_at_ns=T0 + 10**9,
                            reduced_size=True, trading_date="2013-10-07")
    first = SqlRepository(migrated_url, tmp_path / "journal")
    first.record_intent(_intent("tc-IBM-open", price))
    first.save_positions([position], T0)
    first.save_daily_pnl(pnl)
    first.save_breaker(reduced)
    first.save_breaker(tripped)  # recorded later, but it happened earlier
    first.close()

    # Act
    second = SqlRepository(migrated_url, tmp_path / "journal")
    try:
        restored = (second.load_positions(), second.load_daily_pnl("2013-10-07"), second.load_breaker(),
                    [i.client_order_id for i in second.open_intents()], second.load_daily_pnl("2013-10-08"))
    finally:
        second.close()

    # Assert
    assert restored == ([position], pnl, reduced, ["tc-IBM-open"], None)


def test_startup_when_a_journal_is_left_over_then_it_is_replayed_first(
    migrated_url: str, tmp_path: Path, ibm_ticks: list[tuple[int, Decimal]]
) -> None:
    # Arrange: a previous run spilled these and stopped before the database came back
    offset, price = ibm_ticks[8]
    fill = _update("tc-IBM-9", "filled", T0 + offset, price, filled=100, fill_id="fill-9")
    audit = AuditRecord(action="halt", caller="ops", reason="drill", occurred_at_ns=T0)
    journal = Journal(tmp_path / "journal" / "pending-writes.journal")
    journal.append([FillOp(seq=1, update=fill), AuditOp(seq=2, record=audit)])
    journal.close()

    # Act
    repo = SqlRepository(migrated_url, tmp_path / "journal")
    try:
        repo.flush()
        health = repo.health()
    finally:
        repo.close()

    # Assert
    assert (_count(migrated_url, m.TradeFill), _count(migrated_url, m.AuditLogRow)) == (1, 1)
    assert health["journal_bytes"] == 0


def test_breaker_when_a_daily_loss_trip_is_restored_then_the_next_trading_day_clears_it(
    migrated_url: str, tmp_path: Path
) -> None:
    """The rule that tripped the breaker survives a restart, so a daily-loss REDUCING ends with the day
    (as it does without a restart) instead of waiting for an operator's reset."""
    from actors.risk.breaker import DAILY_LOSS, CircuitBreaker

    # Arrange: tripped by the daily loss, cooled down to reducing, saved
    breaker = CircuitBreaker(cooldown_ns=3600 * 10**9, trading_date="2013-10-07")
    breaker.trip("risk", "daily loss 5,012.00 >= 5,000.00", T0, rule=DAILY_LOSS)
    breaker.tick(T0 + 3600 * 10**9)
    assert breaker.state == "reducing"
    first = SqlRepository(migrated_url, tmp_path / "journal")
    first.save_breaker(breaker.to_record())
    first.close()

    # Act: restored by a restarted risk actor, then the next trading day starts
    second = SqlRepository(migrated_url, tmp_path / "journal")
    try:
        record = second.load_breaker()
    finally:
        second.close()
    assert record is not None
    restored = CircuitBreaker.from_record(record, cooldown_ns=3600 * 10**9)
    restored.roll_day("2013-10-08", T0 + 86_400 * 10**9)

    # Assert
    assert record.trip_rule == DAILY_LOSS
    assert restored.state == "closed"
