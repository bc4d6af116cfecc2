"""The outage scenario: PostgreSQL is unreachable for 60 s of simulated trading at a high write rate.

The repository talks to PostgreSQL through a FaultProxy. While the proxy is cut, the writer must
go DEGRADED, keep accepting writes, overflow its memory queue into the journal, and after the
proxy heals write every row exactly once, in the order it was recorded, and go back to OK.
Simulated time comes from the data timestamps; no test step sleeps for the outage's length.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from db_fault_proxy import FaultProxy
from sqlalchemy import text
from sqlalchemy.engine import URL

from cluster.foundation.domain.settings import REPO_ROOT
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate
from cluster.foundation.storage.db import SqlRepository, WriterOptions, upgrade
from cluster.foundation.storage.db.engine import make_engine

DATA = REPO_ROOT / "data" / "us_equity_minute_trade_bars.csv"
OUTAGE_START_NS = 1_381_152_600_000_000_000  # 2013-10-07T13:30:00Z, the open
FILLS_PER_SIMULATED_SECOND = 400
OUTAGE_SECONDS = 60
QUEUE_MAX = 2_000


def _real_closes(day: str) -> dict[str, list[Decimal]]:
    """Minute closes of each symbol on `day` from the shipped data, from the open on."""
    closes: dict[str, list[Decimal]] = {}
    with DATA.open() as fh:
        for row in csv.DictReader(fh):
            if row["timestamp"].startswith(day) and row["timestamp"][11:16] >= "13:30":
                closes.setdefault(row["symbol"], []).append(Decimal(row["close"]))
    return closes


def _simulated_fills(start_ns: int, seconds: int, closes: dict[str, list[Decimal]]) -> Iterator[OrderUpdate]:
    """One filled order every 1/FILLS_PER_SIMULATED_SECOND s, cycling through the symbols."""
    symbols = sorted(closes)
    step_ns = 1_000_000_000 // FILLS_PER_SIMULATED_SECOND
    for i in range(seconds * FILLS_PER_SIMULATED_SECOND):
        ts = start_ns + i * step_ns
        symbol = symbols[i % len(symbols)]
        price = closes[symbol][((ts - OUTAGE_START_NS) // 60_000_000_000) % len(closes[symbol])]
        coid = f"tc-{symbol}-{ts}"
        yield OrderUpdate(client_order_id=coid, broker_order_id=f"b-{ts}", symbol=symbol, side="buy",
                          status="filled", qty=Decimal(100), filled_qty=Decimal(100), ts_ns=ts,
                          filled_avg_price=price, last_fill_qty=Decimal(100), last_fill_price=price,
                          fill_id=f"fill-{coid}")


def _new(update: OrderUpdate) -> OrderUpdate:
    return OrderUpdate(client_order_id=update.client_order_id, broker_order_id=update.broker_order_id,
                       symbol=update.symbol, side=update.side, status="new", qty=update.qty,
                       filled_qty=Decimal(0), ts_ns=update.ts_ns - 1_000)


def _record(repo: SqlRepository, fills: list[OrderUpdate]) -> None:
    for fill in fills:
        repo.record_order_update(_new(fill))
        repo.record_order_update(fill)
        repo.record_fill(fill)


def _wait_for(condition: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.mark.postgres
def test_writer_when_postgres_cut_for_60s_of_trading_then_every_row_lands_once_in_order(
    fresh_postgres_url: URL, tmp_path: Path
) -> None:
    # Arrange
    direct_url = fresh_postgres_url.render_as_string(hide_password=False)
    upgrade(direct_url)
    proxy = FaultProxy(fresh_postgres_url.host or "127.0.0.1", fresh_postgres_url.port or 5432)
    proxied_url = fresh_postgres_url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    closes = _real_closes("2013-10-07")
    warmup = list(_simulated_fills(OUTAGE_START_NS - 5_000_000_000, 5, closes))
    outage = list(_simulated_fills(OUTAGE_START_NS, OUTAGE_SECONDS, closes))
    after = list(_simulated_fills(OUTAGE_START_NS + OUTAGE_SECONDS * 1_000_000_000, 5, closes))
    intent = OrderIntent(client_order_id="tc-SPY-outage", symbol="SPY", side="buy", qty=Decimal(10),
                         order_type="market", time_in_force="day", ts_ns=OUTAGE_START_NS + 1, batch=1,
                         correlation_id="SPY@outage")
    repo = SqlRepository(proxied_url, tmp_path / "journal",
                         WriterOptions(queue_max=QUEUE_MAX, retry_initial_s=0.02, retry_max_s=0.25), read_timeout_s=60)
    started = time.monotonic()
    try:
        _record(repo, warmup)
        repo.flush()

        # Act: the outage
        proxy.cut()
        _record(repo, outage[:100])
        assert _wait_for(lambda: repo.status == "degraded", 10), "writer never noticed the outage"
        repo.record_intent(intent)  # returns although the database is down: journaled and fsync'ed
        _record(repo, outage[100:])
        during = repo.health()
        proxy.heal()
        _record(repo, after)
        repo.flush()
        final = repo.health()
        open_intents = repo.open_intents()
    finally:
        repo.close()
        proxy.close()
    wall_s = time.monotonic() - started

    # Assert: the outage was buffered, journaled, and recovered from
    assert during["status"] == "degraded" and during["postgresql_up"] == 0
    assert during["journal_bytes"] > 0 and during["journaled"] > QUEUE_MAX
    assert final["status"] == "ok" and final["postgresql_up"] == 1 and final["journal_bytes"] == 0
    assert [t.status for t in repo.transitions] == ["degraded", "ok"]
    assert [i.client_order_id for i in open_intents] == [intent.client_order_id]
    assert wall_s < 60, f"the simulated outage took {wall_s:.1f}s of wall time"
    everything = warmup + outage + after
    engine = make_engine(direct_url)
    try:
        with engine.connect() as conn:
            trades = conn.execute(text(
                "SELECT trade_id, price, xmin::text::bigint FROM trades ORDER BY executed_at")).all()
            statuses = dict(conn.execute(text("SELECT status, count(*) FROM orders GROUP BY status")).all())
            outage_events = conn.execute(text(
                "SELECT count(*) FROM risk_events WHERE event_type = 'database_outage'")).scalar_one()
    finally:
        engine.dispose()
    # exactly once, each with the price that was recorded
    assert [t.trade_id for t in trades] == [f.fill_id for f in everything]
    assert [t.price for t in trades] == [f.last_fill_price for f in everything]
    # in order: rows committed in the order recorded (transaction ids never go back in time)
    xmins = [t.xmin for t in trades]
    assert xmins == sorted(xmins)
    # the later "filled" update of every order won over its earlier "new"
    assert statuses == {"filled": len(everything)}
    assert outage_events == 1
