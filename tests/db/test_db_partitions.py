"""Monthly partitions on PostgreSQL (rows route to their month; retention drops only old months)
and the same retention on SQLite (old rows deleted)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from cluster.foundation.domain.records import RiskEvent
from cluster.foundation.domain.wire import OrderUpdate
from cluster.foundation.storage.db import SqlRepository, maintain_partitions
from cluster.foundation.storage.db.engine import make_engine

OCT_2013 = 1_381_152_600_000_000_000  # 2013-10-07T13:30:00Z (shipped data)
MAR_2021 = 1_617_197_400_000_000_000  # 2021-03-31T13:30:00Z (last daily bar shipped)
NOW = datetime(2024, 1, 15, tzinfo=UTC)


def _fill(coid: str, ts: int, price: str) -> OrderUpdate:
    return OrderUpdate(client_order_id=coid, broker_order_id=f"b-{coid}", symbol="SPY", side="buy",
                       status="filled", qty=Decimal(10), filled_qty=Decimal(10), ts_ns=ts,
                       filled_avg_price=Decimal(price), last_fill_qty=Decimal(10), last_fill_price=Decimal(price),
                       fill_id=f"f-{coid}")


def _write(url: str, journal: Path) -> None:
    repo = SqlRepository(url, journal)
    try:
        for coid, ts, price in (("old", OCT_2013, "167.44"), ("new", MAR_2021, "396.33")):
            fill = _fill(coid, ts, price)
            repo.record_order_update(fill)
            repo.record_fill(fill)
            repo.record_risk_event(RiskEvent(event_type="fill", severity="info", message=coid, occurred_at_ns=ts))
        repo.flush()
    finally:
        repo.close()


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_rows_when_written_on_postgres_then_each_lands_in_its_month_partition(
    fresh_postgres_url: object, tmp_path: Path
) -> None:
    # Arrange
    from cluster.foundation.storage.db import upgrade

    url = fresh_postgres_url.render_as_string(hide_password=False)  # type: ignore[attr-defined]
    upgrade(url)

    # Act
    _write(url, tmp_path)

    # Assert
    rows = _query(url, "SELECT tableoid::regclass::text, trade_id FROM trades ORDER BY executed_at")
    assert rows == [("trades_y2013m10", "f-old"), ("trades_y2021m03", "f-new")]
    assert _query(url, "SELECT tableoid::regclass::text FROM orders ORDER BY submitted_at") == [
        ("orders_y2013m10",), ("orders_y2021m03",)]


@pytest.mark.postgres
def test_maintain_partitions_when_run_then_creates_ahead_and_drops_only_past_retention(
    fresh_postgres_url: object, tmp_path: Path
) -> None:
    # Arrange: retention 10 years from 2024-01 keeps 2014-01 on; 2013-10 is past it
    from cluster.foundation.storage.db import upgrade

    url = fresh_postgres_url.render_as_string(hide_password=False)  # type: ignore[attr-defined]
    upgrade(url)
    _write(url, tmp_path)

    # Act
    report = maintain_partitions(url, months_ahead=2, retention_years=10, now=NOW)
    again = maintain_partitions(url, months_ahead=2, retention_years=10, now=NOW)

    # Assert
    expected_new = {f"{t}_y{ym}" for t in ("orders", "trades", "risk_events") for ym in ("2024m01", "2024m02", "2024m03")}
    assert set(report.created) == expected_new
    assert set(report.dropped) == {"orders_y2013m10", "trades_y2013m10", "risk_events_y2013m10"}
    assert (again.created, again.dropped) == ([], [])
    assert _query(url, "SELECT trade_id FROM trades") == [("f-new",)]
    assert _query(url, "SELECT message FROM risk_events") == [("new",)]


def test_maintain_partitions_when_on_sqlite_then_rows_past_retention_are_deleted(tmp_path: Path) -> None:
    # Arrange
    from cluster.foundation.storage.db import upgrade

    url = f"sqlite:///{tmp_path / 'trading.db'}"
    upgrade(url)
    _write(url, tmp_path / "journal")

    # Act
    report = maintain_partitions(url, retention_years=10, now=NOW)

    # Assert: one old row in each of orders, trades, risk_events
    assert report.deleted_rows == 3
    assert _query(url, "SELECT trade_id FROM trades") == [("f-new",)]
