"""Monthly range partitions of orders, trades and risk_events on PostgreSQL.

Partition `<table>_yYYYYmMM` holds [first day of the month, first day of the next month) UTC.
The writer creates a missing month on demand before it inserts (so replayed history never fails);
`maintain_partitions` creates months ahead and drops months entirely older than the retention.
On SQLite there are no partitions: retention deletes the old rows instead, so both backends keep
the same data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Connection, text

from cluster.foundation.storage.db.engine import make_engine
from cluster.foundation.storage.db.models import PARTITIONED

log = logging.getLogger("trading.db")

Month = tuple[int, int]  # (year, month)
_NAME = re.compile(r"^(?P<table>[a-z_]+)_y(?P<year>\d{4})m(?P<month>\d{2})$")


class PartitionReport(msgspec.Struct, frozen=True, kw_only=True):
    created: list[str] = []
    dropped: list[str] = []
    deleted_rows: int = 0  # SQLite: rows removed by retention
    cutoff: str = ""  # first instant that is kept, ISO UTC


def month_of(moment: datetime) -> Month:
    return (moment.year, moment.month)


def add_months(month: Month, count: int) -> Month:
    index = month[0] * 12 + (month[1] - 1) + count
    return (index // 12, index % 12 + 1)


def month_start(month: Month) -> datetime:
    return datetime(month[0], month[1], 1, tzinfo=UTC)


def partition_name(table: str, month: Month) -> str:
    return f"{table}_y{month[0]:04d}m{month[1]:02d}"


def parse_partition_name(name: str) -> tuple[str, Month] | None:
    match = _NAME.match(name)
    if match is None:
        return None
    return match["table"], (int(match["year"]), int(match["month"]))


def months_to_create(now: datetime, months_ahead: int) -> list[Month]:
    """The current month and the `months_ahead` months after it."""
    current = month_of(now)
    return [add_months(current, i) for i in range(months_ahead + 1)]


def retention_cutoff(now: datetime, retention_years: int) -> datetime:
    """Start of the oldest month still kept: a partition is dropped only if it ends by this instant."""
    return month_start(add_months(month_of(now), -12 * retention_years))


def expired(month: Month, cutoff: datetime) -> bool:
    return month_start(add_months(month, 1)) <= cutoff


def create_partition_sql(table: str, month: Month) -> str:
    lower, upper = month_start(month), month_start(add_months(month, 1))
    return (
        f'CREATE TABLE IF NOT EXISTS "{partition_name(table, month)}" PARTITION OF "{table}" '
        f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
    )


def ensure_partitions(conn: Connection, table: str, months: Iterable[Month]) -> list[str]:
    """Create the monthly partitions that do not exist yet (PostgreSQL); returns the names asked for."""
    names = []
    for month in sorted(set(months)):
        conn.execute(text(create_partition_sql(table, month)))
        names.append(partition_name(table, month))
    return names


def existing_partitions(conn: Connection, table: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE p.relname = :table AND n.nspname = current_schema()"
        ),
        {"table": table},
    )
    return sorted(r[0] for r in rows)


def maintain_partitions(
    url: str, months_ahead: int = 3, retention_years: int = 10, now: datetime | None = None
) -> PartitionReport:
    """Create partitions `months_ahead` months ahead and drop (PostgreSQL) or delete (SQLite)
    everything older than `retention_years`. Idempotent; run it daily."""
    if months_ahead < 0 or retention_years < 1:
        raise ValueError("months_ahead must be >= 0 and retention_years >= 1")
    moment = now or datetime.now(UTC)
    cutoff = retention_cutoff(moment, retention_years)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name != "postgresql":
                deleted = sum(
                    conn.execute(text(f'DELETE FROM "{table}" WHERE "{column}" < :cutoff'), {"cutoff": cutoff}).rowcount
                    for table, column in PARTITIONED.items()
                )
                return PartitionReport(deleted_rows=deleted, cutoff=cutoff.isoformat())
            created, dropped = [], []
            for table in PARTITIONED:
                before = set(existing_partitions(conn, table))
                for name in ensure_partitions(conn, table, months_to_create(moment, months_ahead)):
                    if name not in before:
                        created.append(name)
                for name in before:
                    parsed = parse_partition_name(name)
                    if parsed and parsed[0] == table and expired(parsed[1], cutoff):
                        conn.execute(text(f'DROP TABLE "{name}"'))
                        dropped.append(name)
        report = PartitionReport(created=created, dropped=sorted(dropped), cutoff=cutoff.isoformat())
        log.info("partitions maintained: created %d, dropped %d, cutoff %s", len(created), len(dropped), cutoff)
        return report
    finally:
        engine.dispose()
