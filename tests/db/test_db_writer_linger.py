"""The writer's linger: rows that arrive within it share one commit; a flush or a close never waits for it."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from cluster.foundation.domain.records import RiskEvent
from cluster.foundation.storage.db import SqlRepository, WriterOptions
from cluster.foundation.storage.db import models as m
from cluster.foundation.storage.db.engine import make_engine

T0 = 1_381_152_600_000_000_000  # 2013-10-07T13:30:00Z


def _event(i: int) -> RiskEvent:
    return RiskEvent(event_type="order_rejected", severity="warning", message=f"at target {i}",
                     occurred_at_ns=T0 + i, metadata={"symbol": "IBM"})


def _risk_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.RiskEventRow)).scalar_one()
    finally:
        engine.dispose()


def _wait_written(repo: SqlRepository, n: int, deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while repo.health()["written"] != n:
        assert time.monotonic() < deadline, f"writer wrote {repo.health()['written']} of {n} ops in {deadline_s}s"
        time.sleep(0.01)


def test_writer_when_rows_arrive_within_the_linger_then_one_commit_writes_them_all(
    migrated_url: str, tmp_path: Path
) -> None:
    # Arrange: without the linger the first row is committed on its own while the others come
    repo = SqlRepository(migrated_url, tmp_path / "journal", WriterOptions(linger_s=2.0))
    try:
        # Act
        repo.record_risk_event(_event(0))
        time.sleep(0.2)
        for i in range(1, 20):
            repo.record_risk_event(_event(i))
        _wait_written(repo, 20)

        # Assert
        assert repo.health()["batches"] == 1
        assert _risk_rows(migrated_url) == 20
    finally:
        repo.close()


def test_writer_when_no_linger_then_a_lone_row_is_committed_without_waiting_for_more(
    migrated_url: str, tmp_path: Path
) -> None:
    # Arrange
    repo = SqlRepository(migrated_url, tmp_path / "journal", WriterOptions(linger_s=0.0))
    try:
        # Act
        repo.record_risk_event(_event(0))
        _wait_written(repo, 1)
        repo.record_risk_event(_event(1))
        _wait_written(repo, 2)

        # Assert
        assert repo.health()["batches"] == 2
    finally:
        repo.close()


def test_flush_when_the_writer_lingers_then_it_commits_at_once_rather_than_after_the_linger(
    migrated_url: str, tmp_path: Path
) -> None:
    # Arrange: a linger far longer than the flush may wait
    repo = SqlRepository(migrated_url, tmp_path / "journal", WriterOptions(linger_s=60.0), read_timeout_s=10.0)
    try:
        repo.record_risk_event(_event(0))
        time.sleep(0.1)  # the writer has taken the row and lingers
        repo.record_risk_event(_event(1))

        # Act: DependencyDown if the flush had to wait for the linger
        repo.flush()

        # Assert
        assert _risk_rows(migrated_url) == 2
    finally:
        repo.close()


def test_close_when_the_writer_lingers_then_every_row_is_written_at_once(
    migrated_url: str, tmp_path: Path
) -> None:
    # Arrange
    repo = SqlRepository(migrated_url, tmp_path / "journal", WriterOptions(linger_s=60.0), read_timeout_s=10.0)
    for i in range(5):
        repo.record_risk_event(_event(i))

    # Act
    started = time.monotonic()
    repo.close()

    # Assert: close waits at most its 10 s flush timeout, and then keeps unwritten rows in the journal
    assert time.monotonic() - started < 10.0
    assert _risk_rows(migrated_url) == 5


_DIE_AFTER_TRIP = """
import os, sys
from pathlib import Path
from cluster.foundation.storage.db import SqlRepository, WriterOptions
from cluster.foundation.domain.records import BreakerRecord
repo = SqlRepository(sys.argv[1], Path(sys.argv[2]), WriterOptions(linger_s=60.0))
repo.save_breaker(BreakerRecord(state="open", reason="operator drill", changed_by="ops", changed_at_ns=int(sys.argv[3]),
                                trading_date="2013-10-07", trip_rule="manual"))
os._exit(0)  # killed right after the trip was acknowledged: no flush, no close
"""


def test_save_breaker_when_the_process_dies_right_after_a_trip_then_the_restart_finds_the_breaker_open(
    migrated_url: str, tmp_path: Path
) -> None:
    # Arrange: a process that trips the breaker and dies while its writer lingers
    import subprocess
    import sys

    journal = tmp_path / "journal"
    subprocess.run([sys.executable, "-c", _DIE_AFTER_TRIP, migrated_url, str(journal), str(T0)], check=True,
                   timeout=120, cwd=Path(__file__).resolve().parents[2])

    # Act: the restarted process opens the same journal and reads the breaker
    repo = SqlRepository(migrated_url, journal, read_timeout_s=20.0)
    try:
        breaker = repo.load_breaker()
    finally:
        repo.close()

    # Assert
    assert breaker is not None and breaker.state == "open" and breaker.reason == "operator drill"
