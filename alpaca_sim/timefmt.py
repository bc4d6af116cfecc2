"""RFC-3339 with nanoseconds in both directions: Alpaca stamps carry 9 fractional digits."""

from __future__ import annotations

import re
import struct
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

NEW_YORK = ZoneInfo("America/New_York")
_RFC3339 = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})?$",
    re.ASCII,
)
_NS = 1_000_000_000


def parse_rfc3339_ns(text: str) -> int:
    """UTC nanoseconds of an RFC-3339 stamp (a bare date means midnight UTC); ValueError otherwise."""
    if len(text) == 10:
        text += "T00:00:00Z"
    match = _RFC3339.match(text.strip())
    if match is None:
        raise ValueError(f"not an RFC-3339 timestamp: {text!r}")
    day, clock, frac, zone = match.groups()
    offset = "+00:00" if zone in (None, "Z") else zone
    try:
        whole = datetime.fromisoformat(f"{day}T{clock}{offset}")
        seconds = int(whole.timestamp())
    except (ValueError, OverflowError) as exc:  # 2013-13-45, 25:00:00, year 0, offsets beyond a day
        raise ValueError(f"not an RFC-3339 timestamp: {text!r} ({exc})") from None
    nanos = int((frac or "").ljust(9, "0"))
    return seconds * _NS + nanos


def format_utc(ts_ns: int) -> str:
    """2022-04-19T17:45:05.024916716Z (fraction omitted on whole seconds, like Alpaca's bar stamps)."""
    seconds, nanos = divmod(ts_ns, _NS)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}Z" if nanos == 0 else f"{base}.{nanos:09d}Z"


def format_new_york(ts_ns: int) -> str:
    """The clock endpoint echoes New York local time with its offset."""
    seconds, nanos = divmod(ts_ns, _NS)
    local = datetime.fromtimestamp(seconds, tz=UTC).astimezone(NEW_YORK)
    text = local.isoformat()
    return text if nanos == 0 else text[:19] + f".{nanos:09d}" + text[19:]


def msgpack_timestamp(ts_ns: int) -> msgspec.msgpack.Ext:
    """MessagePack Timestamp extension (type -1, 96-bit form) that keeps every nanosecond."""
    seconds, nanos = divmod(ts_ns, _NS)
    return msgspec.msgpack.Ext(-1, struct.pack(">Iq", nanos, seconds))


def market_session_ns(ts_ns: int) -> tuple[bool, int, int]:
    """(is_open, next_open_ns, next_close_ns) for the regular 09:30-16:00 New York weekday session."""
    now = datetime.fromtimestamp(ts_ns / _NS, tz=UTC).astimezone(NEW_YORK)
    day = now.date()
    for _ in range(10):
        if day.weekday() < 5:
            open_at = datetime(day.year, day.month, day.day, 9, 30, tzinfo=NEW_YORK)
            close_at = datetime(day.year, day.month, day.day, 16, 0, tzinfo=NEW_YORK)
            if now < close_at:
                is_open = open_at <= now
                next_open = open_at if now < open_at else _next_weekday_open(day)
                return is_open, int(next_open.timestamp()) * _NS, int(close_at.timestamp()) * _NS
        day = day + timedelta(days=1)
    raise AssertionError("no weekday within ten days")  # pragma: no cover


def _next_weekday_open(day: date) -> datetime:
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += timedelta(days=1)
    return datetime(nxt.year, nxt.month, nxt.day, 9, 30, tzinfo=NEW_YORK)
