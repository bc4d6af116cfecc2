"""Timestamps of the shipped CSV files, parsed with plain string and int arithmetic (no datetime per
row): RFC-3339 UTC stamps and dates, cached because the rows of every symbol share a few minutes."""

from __future__ import annotations

from datetime import date
from typing import Final

NS_PER_S: Final = 1_000_000_000
NS_PER_DAY: Final = 86_400 * NS_PER_S


class RowError(ValueError):
    """A row-level problem; the reader turns it into a DataError with file and line."""


_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_day_ns_cache: dict[str, int] = {}


def day_ns(day: str) -> int:
    cached = _day_ns_cache.get(day)
    if cached is not None:
        return cached
    if len(day) != 10 or day[4] != "-" or day[7] != "-" or not (day[:4] + day[5:7] + day[8:]).isdecimal():
        raise RowError(f"bad date {day!r}")
    try:
        ordinal = date(int(day[:4]), int(day[5:7]), int(day[8:])).toordinal()
    except ValueError as exc:
        raise RowError(f"bad date {day!r}: {exc}") from None
    value = (ordinal - _EPOCH_ORDINAL) * NS_PER_DAY
    _day_ns_cache[day] = value
    return value


_hour_ns_cache: dict[str, int] = {}


def _hour_ns(text: str) -> int:
    """ns of 'YYYY-MM-DDTHH' (cached: rows of one hour share it)."""
    cached = _hour_ns_cache.get(text)
    if cached is not None:
        return cached
    hour = text[11:13]
    if text[10] != "T" or not hour.isdecimal() or not hour.isascii() or int(hour) > 23:
        raise RowError("is not RFC-3339 UTC")
    if len(_hour_ns_cache) > 100_000:
        _hour_ns_cache.clear()
    value = _hour_ns_cache[text] = day_ns(text[:10]) + int(hour) * 3600 * NS_PER_S
    return value


_utc_ns_cache: dict[str, int] = {}


def parse_utc_ns(text: str) -> int:
    """RFC-3339 UTC 'YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z' -> int ns since the epoch.

    Valid stamps are cached: the rows of every symbol of a file share the same few minutes."""
    cached = _utc_ns_cache.get(text)
    if cached is not None:
        return cached
    ns = _parse_utc_ns(text)
    if len(_utc_ns_cache) >= 100_000:
        _utc_ns_cache.clear()
    _utc_ns_cache[text] = ns
    return ns


def _parse_utc_ns(text: str) -> int:
    size = len(text)
    minute_second = text[14:16] + text[17:19]
    if (
        size < 20 or text[13] != ":" or text[16] != ":" or text[-1] != "Z"
        or not minute_second.isdecimal() or not minute_second.isascii()
    ):
        raise RowError(f"timestamp {text!r} is not RFC-3339 UTC")
    minutes, seconds = divmod(int(minute_second), 100)
    if minutes > 59 or seconds > 59:
        raise RowError(f"timestamp {text!r} has an impossible time of day")
    try:
        ns = _hour_ns(text[:13]) + (minutes * 60 + seconds) * NS_PER_S
    except RowError as exc:
        raise RowError(f"timestamp {text!r} {exc}") from None
    if size > 20:
        fraction = text[20:-1]
        if text[19] != "." or not 1 <= len(fraction) <= 9 or not fraction.isdecimal() or not fraction.isascii():
            raise RowError(f"timestamp {text!r} is not RFC-3339 UTC")
        ns += int(fraction) * 10 ** (9 - len(fraction))
    return ns
