"""Month arithmetic of partition maintenance and the int-ns <-> datetime boundary."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from cluster.foundation.storage.db.partitions import (
    add_months,
    expired,
    months_to_create,
    parse_partition_name,
    partition_name,
    retention_cutoff,
)
from cluster.foundation.storage.db.types import dt_to_ns, ns_to_dt


def test_months_to_create_when_near_year_end_then_rolls_into_next_year() -> None:
    assert months_to_create(datetime(2025, 11, 30, tzinfo=UTC), 3) == [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]


def test_expired_when_partition_ends_at_cutoff_then_dropped_and_next_month_kept() -> None:
    # Arrange
    cutoff = retention_cutoff(datetime(2024, 1, 15, tzinfo=UTC), 10)

    # Act / Assert
    assert cutoff == datetime(2014, 1, 1, tzinfo=UTC)
    assert expired((2013, 12), cutoff)
    assert not expired((2014, 1), cutoff)


def test_partition_name_when_parsed_then_gives_table_and_month() -> None:
    assert partition_name("risk_events", (2013, 10)) == "risk_events_y2013m10"
    assert parse_partition_name("risk_events_y2013m10") == ("risk_events", (2013, 10))
    assert parse_partition_name("risk_events") is None


@given(st.integers(min_value=1900, max_value=2200), st.integers(1, 12), st.integers(-600, 600))
def test_add_months_when_undone_then_returns_the_same_month(year: int, month: int, count: int) -> None:
    assert add_months(add_months((year, month), count), -count) == (year, month)


@given(st.integers(min_value=0, max_value=4_102_444_800_000_000_000))
def test_ns_to_dt_when_converted_back_then_equal_to_the_microsecond(ts_ns: int) -> None:
    assert dt_to_ns(ns_to_dt(ts_ns)) == ts_ns - ts_ns % 1_000


def test_dt_to_ns_when_naive_datetime_from_sqlite_then_read_as_utc() -> None:
    naive = datetime(2013, 10, 7, 13, 30)
    assert dt_to_ns(naive) == 1_381_152_600_000_000_000
