"""When equities trade: the engine asks a MarketHours; the simulator answers from the NYSE calendar."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from alpaca_sim import sessions
from alpaca_sim.timefmt import NEW_YORK


class MarketHours(Protocol):
    def is_regular(self, ts_ns: int) -> bool: ...

    def is_extended(self, ts_ns: int) -> bool: ...

    def day_order_expiry(self, submitted_ns: int, extended: bool) -> int: ...


class AlwaysOpen:
    """No sessions (the pure engine's default): day orders live until the New York date changes."""

    def is_regular(self, ts_ns: int) -> bool:
        return True

    def is_extended(self, ts_ns: int) -> bool:
        return True

    def day_order_expiry(self, submitted_ns: int, extended: bool) -> int:
        local = datetime.fromtimestamp(submitted_ns / 1e9, tz=UTC).astimezone(NEW_YORK)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=NEW_YORK)
        return int(midnight.timestamp()) * 1_000_000_000


class NyseHours:
    """Regular 09:30-16:00 ET, extended 04:00-20:00 ET, half days and holidays from the calendar.

    A day order belongs to the session in progress or the next one; it expires at that session's
    close (extended-hours orders at the end of its after-hours)."""

    def is_regular(self, ts_ns: int) -> bool:
        return sessions.is_regular(ts_ns)

    def is_extended(self, ts_ns: int) -> bool:
        return sessions.is_extended(ts_ns)

    def day_order_expiry(self, submitted_ns: int, extended: bool) -> int:
        session = sessions.order_session(submitted_ns, extended)
        return session.post_ns if extended else session.close_ns
