"""The trading day of an event time, in the risk trading-day zone; it only ever moves forward."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


class TradingDay:
    def __init__(self, tz: str) -> None:
        self._tz = ZoneInfo(tz)
        self._end_ns = 0  # the next day starts here; 0: not known yet

    def date_of(self, ts_ns: int) -> str:
        return datetime.fromtimestamp(ts_ns // 1_000_000_000, self._tz).date().isoformat()

    def crossed(self, ts_ns: int) -> str | None:
        """The date of ts_ns when it lies past the day last seen, else None (cheap on the hot path)."""
        if ts_ns < self._end_ns:
            return None
        local = datetime.fromtimestamp(ts_ns // 1_000_000_000, self._tz)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self._tz)
        self._end_ns = int(midnight.timestamp()) * 1_000_000_000
        return local.date().isoformat()

    def forget(self) -> None:
        self._end_ns = 0
