"""Trading sessions of the New York Stock Exchange, from the exchange calendar (holidays, half days).

Regular hours are 09:30-16:00 ET (13:00 on half days); Alpaca's extended hours run from 04:00 to
09:30 and from the close to 20:00 ET (17:00 on half days). Times are UTC nanoseconds throughout.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from alpaca_sim.timefmt import NEW_YORK

_NS = 1_000_000_000
_FIRST_YEAR, _LAST_YEAR = 1998, 2030  # the shipped data spans 1998-2023


@dataclass(frozen=True, slots=True)
class Session:
    day: date
    pre_ns: int  # extended hours open (04:00 ET)
    open_ns: int  # regular open
    close_ns: int  # regular close (16:00 ET, 13:00 on half days)
    post_ns: int  # extended hours close (20:00 ET, 17:00 on half days)

    @property
    def half_day(self) -> bool:
        return self.close_ns - self.open_ns < 6 * 3600 * _NS


def _ns(day: date, at: time) -> int:
    return int(datetime.combine(day, at, tzinfo=NEW_YORK).timestamp()) * _NS


@functools.cache
def _sessions() -> tuple[tuple[Session, ...], tuple[int, ...], tuple[date, ...]]:
    import exchange_calendars

    calendar = exchange_calendars.get_calendar("XNYS", start=f"{_FIRST_YEAR}-01-01", end=f"{_LAST_YEAR}-12-31")
    sessions = []
    for label, row in calendar.schedule.iterrows():
        day = label.date()
        open_ns, close_ns = int(row["open"].value), int(row["close"].value)
        # after-hours last four hours past the close: to 20:00, or to 17:00 on a half day
        sessions.append(Session(day, _ns(day, time(4, 0)), open_ns, close_ns, close_ns + 4 * 3600 * _NS))
    ordered = tuple(sessions)
    return ordered, tuple(s.post_ns for s in ordered), tuple(s.day for s in ordered)


def session_on(day: date) -> Session | None:
    sessions, _, days = _sessions()
    index = bisect.bisect_left(days, day)
    return sessions[index] if index < len(sessions) and sessions[index].day == day else None


def current_or_next(ts_ns: int) -> Session:
    """The session whose extended hours are in progress at ts_ns, or else the next one."""
    sessions, ends, _ = _sessions()
    index = bisect.bisect_right(ends, ts_ns)
    if index >= len(sessions):
        raise ValueError(f"no trading session after {datetime.fromtimestamp(ts_ns / _NS, tz=UTC)}")
    return sessions[index]


def order_session(ts_ns: int, extended: bool) -> Session:
    """The session a day order submitted at ts_ns belongs to: after the close (or, for extended-hours
    orders, after the evening session) it is the next trading day's."""
    session = current_or_next(ts_ns)
    if not extended and ts_ns >= session.close_ns:
        return current_or_next(session.post_ns)
    return session


def is_regular(ts_ns: int) -> bool:
    session = current_or_next(ts_ns)
    return session.open_ns <= ts_ns < session.close_ns


def is_extended(ts_ns: int) -> bool:
    """Pre-market, regular or after-hours."""
    session = current_or_next(ts_ns)
    return session.pre_ns <= ts_ns < session.post_ns


def clock(ts_ns: int) -> tuple[bool, int, int]:
    """(is_open, next_open_ns, next_close_ns) as GET /v2/clock reports them."""
    session = current_or_next(ts_ns)
    if ts_ns >= session.close_ns:
        session = current_or_next(session.post_ns)
    is_open = session.open_ns <= ts_ns < session.close_ns
    next_open = current_or_next(session.post_ns).open_ns if is_open else session.open_ns
    return is_open, next_open, session.close_ns


def between(start: date, end: date) -> list[Session]:
    sessions, _, days = _sessions()
    return list(sessions[bisect.bisect_left(days, start):bisect.bisect_right(days, end)])


def settlement_day(day: date, lag: int = 2) -> date:
    """T+lag trading days (T+2 before 2024-05-28, T+1 since)."""
    _, _, days = _sessions()
    index = bisect.bisect_right(days, day) + lag - 1
    return days[index] if index < len(days) else day + timedelta(days=lag)
