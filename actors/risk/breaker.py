"""Circuit breaker: closed -> open (trip) -> reducing (cooldown) -> closed (operator reset, reduced size).

A new trading day ends the reduced size, and a breaker REDUCING after a daily-loss trip returns to
CLOSED: the daily loss limit is a budget per day. A breaker tripped for any other reason (an
operator, order failures, a stale book) stays where it is until an operator resets it.

The transitions are one table; `trigger()` is the only way to change state and raises
InvalidTransition for a pair the table does not have. Each change records who, why and when, so
a restart restores it from a BreakerRecord.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from cluster.foundation.domain.errors import InvalidTransition
from cluster.foundation.domain.records import BreakerRecord

BreakerState = Literal["closed", "open", "reducing"]
BreakerTrigger = Literal["trip", "cooldown_elapsed", "reset", "day_rollover", "new_day"]
DAILY_LOSS = "daily_loss"  # the trip rule a new trading day clears

BREAKER_TRANSITIONS: dict[tuple[BreakerState, BreakerTrigger], BreakerState] = {
    ("closed", "trip"): "open",
    ("open", "trip"): "open",  # idempotent: keeps the original trip time and reason
    ("reducing", "trip"): "open",
    ("open", "cooldown_elapsed"): "reducing",
    ("open", "reset"): "closed",
    ("reducing", "reset"): "closed",
    ("closed", "day_rollover"): "closed",
    ("open", "day_rollover"): "open",
    ("reducing", "day_rollover"): "reducing",
    ("reducing", "new_day"): "closed",  # only after a daily-loss trip
}


class BreakerTransition(msgspec.Struct, frozen=True, kw_only=True):
    """What one trigger did; the core turns it into a risk event."""

    trigger: BreakerTrigger
    from_state: BreakerState
    to_state: BreakerState
    changed_by: str
    reason: str
    at_ns: int
    reduced_size: bool


class CircuitBreaker:
    """State of the breaker. No clock of its own: tick(now_ns) is driven by the owner's clock."""

    def __init__(self, cooldown_ns: int, trading_date: str = "") -> None:
        self.cooldown_ns = cooldown_ns
        self.state: BreakerState = "closed"
        self.reason = ""
        self.changed_by = ""
        self.changed_at_ns = 0
        self.tripped_at_ns = 0
        self.reduced_size = False
        self.trading_date = trading_date
        self.trip_rule = ""  # what tripped it: "daily_loss", "order_failures", "stale_book", "operator"

    def trigger(self, trigger: BreakerTrigger, by: str, reason: str, at_ns: int) -> BreakerTransition:
        """Apply one trigger through the table; raise InvalidTransition when it has no row."""
        before = self.state
        after = BREAKER_TRANSITIONS.get((before, trigger))
        if after is None:
            raise InvalidTransition(f"breaker {before} -> {trigger} (by {by}: {reason})")
        if trigger == "trip" and before == "open":
            return BreakerTransition(
                trigger=trigger, from_state=before, to_state=after, changed_by=self.changed_by,
                reason=self.reason, at_ns=self.changed_at_ns, reduced_size=self.reduced_size,
            )
        if trigger == "trip":
            self.tripped_at_ns = at_ns
        elif trigger == "reset":
            self.reduced_size = True
            self.trip_rule = ""
        elif trigger in ("day_rollover", "new_day"):
            self.reduced_size = False
        if trigger != "day_rollover":
            self.reason, self.changed_by, self.changed_at_ns = reason, by, at_ns
        self.state = after
        return BreakerTransition(
            trigger=trigger, from_state=before, to_state=after, changed_by=by, reason=reason, at_ns=at_ns,
            reduced_size=self.reduced_size,
        )

    def trip(self, by: str, reason: str, at_ns: int, rule: str = "operator") -> BreakerTransition:
        if self.state != "open":
            self.trip_rule = rule
        return self.trigger("trip", by, reason, at_ns)

    def reset(self, by: str, reason: str, at_ns: int) -> BreakerTransition:
        return self.trigger("reset", by, reason, at_ns)

    def tick(self, now_ns: int) -> BreakerTransition | None:
        """Move open -> reducing once the cooldown has elapsed since the trip."""
        if self.state == "open" and now_ns - self.tripped_at_ns >= self.cooldown_ns:
            minutes = self.cooldown_ns / 60e9
            return self.trigger("cooldown_elapsed", "risk", f"cooldown of {minutes:g} minutes elapsed", now_ns)
        return None

    def roll_day(self, trading_date: str, at_ns: int) -> BreakerTransition:
        """A new trading day clears the reduced size and a daily-loss REDUCING; any other state persists."""
        self.trading_date = trading_date
        if self.state == "reducing" and self.trip_rule == DAILY_LOSS:
            self.trip_rule = ""
            return self.trigger("new_day", "risk", f"trading day {trading_date}: a new daily loss budget", at_ns)
        return self.trigger("day_rollover", "risk", f"trading day {trading_date}", at_ns)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def to_record(self) -> BreakerRecord:
        return BreakerRecord(
            state=self.state, reason=self.reason, changed_by=self.changed_by, changed_at_ns=self.changed_at_ns,
            reduced_size=self.reduced_size, trading_date=self.trading_date, trip_rule=self.trip_rule,
        )

    @classmethod
    def from_record(cls, record: BreakerRecord, cooldown_ns: int) -> CircuitBreaker:
        """Rebuild from storage; an open breaker counts its cooldown from the recorded change time."""
        breaker = cls(cooldown_ns, record.trading_date)
        breaker.state = record.state
        breaker.reason = record.reason
        breaker.changed_by = record.changed_by
        breaker.changed_at_ns = record.changed_at_ns
        breaker.tripped_at_ns = record.changed_at_ns if record.state == "open" else 0
        breaker.reduced_size = record.reduced_size
        breaker.trip_rule = record.trip_rule if record.state != "closed" else ""
        return breaker
