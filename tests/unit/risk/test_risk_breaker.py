"""Circuit breaker: transition table, cooldown on an injected clock, records for restarts."""

from __future__ import annotations

import pytest
from risk_fakes import NS, FakeClock

from actors.risk.breaker import BREAKER_TRANSITIONS, CircuitBreaker
from cluster.foundation.domain.errors import InvalidTransition

COOLDOWN_NS = 60 * 60 * NS


def test_trip_when_closed_then_open_and_records_who_why_when() -> None:
    # Arrange
    clock = FakeClock()
    breaker = CircuitBreaker(COOLDOWN_NS, "2013-10-07")
    # Act
    moved = breaker.trip("ops", "manual halt", clock())
    # Assert
    record = breaker.to_record()
    assert (moved.from_state, moved.to_state) == ("closed", "open")
    assert (record.state, record.changed_by, record.reason, record.changed_at_ns) == ("open", "ops", "manual halt", clock())


def test_trip_when_already_open_then_keeps_original_trip_time_and_reason() -> None:
    # Arrange
    clock = FakeClock()
    breaker = CircuitBreaker(COOLDOWN_NS)
    first = clock()
    breaker.trip("risk", "daily loss", first)
    # Act
    breaker.trip("ops", "again", clock.advance(600))
    # Assert
    assert breaker.to_record().changed_at_ns == first
    assert breaker.to_record().reason == "daily loss"


def test_tick_when_cooldown_not_yet_elapsed_then_stays_open() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(COOLDOWN_NS)
    breaker.trip("risk", "stale data", clock())
    assert breaker.tick(clock.advance(59 * 60 + 59)) is None
    assert breaker.state == "open"


def test_tick_when_cooldown_elapsed_then_reducing_and_reset_closes_with_reduced_size() -> None:
    # Arrange
    clock = FakeClock()
    breaker = CircuitBreaker(COOLDOWN_NS)
    breaker.trip("risk", "order failures", clock())
    # Act
    moved = breaker.tick(clock.advance(60 * 60))
    breaker.reset("ops", "checked the broker", clock.advance(5))
    # Assert
    assert moved is not None and moved.to_state == "reducing"
    assert breaker.state == "closed" and breaker.reduced_size


def test_reset_when_closed_then_raises_invalid_transition() -> None:
    breaker = CircuitBreaker(COOLDOWN_NS)
    with pytest.raises(InvalidTransition, match="closed -> reset"):
        breaker.reset("ops", "nothing to reset", 1)


def test_cooldown_when_not_open_then_table_has_no_row() -> None:
    breaker = CircuitBreaker(COOLDOWN_NS)
    with pytest.raises(InvalidTransition):
        breaker.trigger("cooldown_elapsed", "risk", "", 1)
    assert ("closed", "cooldown_elapsed") not in BREAKER_TRANSITIONS


def test_day_rollover_when_reduced_then_clears_reduced_size_and_keeps_state() -> None:
    # Arrange
    clock = FakeClock()
    breaker = CircuitBreaker(COOLDOWN_NS, "2013-10-07")
    breaker.trip("ops", "halt", clock())
    breaker.reset("ops", "resume", clock.advance(10))
    breaker.trip("ops", "halt again", clock.advance(10))
    # Act
    breaker.roll_day("2013-10-08", clock.advance(3600 * 14))
    # Assert
    assert breaker.state == "open"
    assert not breaker.reduced_size
    assert breaker.trading_date == "2013-10-08"


def test_from_record_when_open_then_cooldown_counts_from_recorded_trip() -> None:
    # Arrange
    clock = FakeClock()
    breaker = CircuitBreaker(COOLDOWN_NS, "2013-10-07")
    breaker.trip("risk", "daily loss", clock())
    # Act
    copy = CircuitBreaker.from_record(breaker.to_record(), COOLDOWN_NS)
    # Assert
    assert copy.to_record() == breaker.to_record()
    assert copy.tick(clock.advance(3599)) is None
    assert copy.tick(clock.advance(1)) is not None
