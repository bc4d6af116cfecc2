"""The day's bar so far, per symbol, rebuilt from the minute bars as they are published: what the
`dailyBars` stream channel sends after every minute (stamped at New York midnight, like 1Day)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from msgspec.structs import replace

from alpaca_sim.data import BarEvent
from alpaca_sim.timefmt import NEW_YORK


def new_york_midnight_ns(ts_ns: int) -> int:
    local = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).astimezone(NEW_YORK)
    return int(datetime.combine(local.date(), time(0), tzinfo=NEW_YORK).timestamp()) * 1_000_000_000


class DailyBars:
    def __init__(self) -> None:
        self._today: dict[str, BarEvent] = {}

    def update(self, minute: BarEvent) -> BarEvent:
        day = new_york_midnight_ns(minute.ts_ns)
        current = self._today.get(minute.symbol)
        if current is None or current.ts_ns != day:
            current = replace(minute, ts_ns=day)
        else:
            both_known = current.trade_count is not None and minute.trade_count is not None
            current = BarEvent(
                minute.symbol, day, current.open, max(current.high, minute.high), min(current.low, minute.low),
                minute.close, current.volume + minute.volume,
                (current.trade_count or 0) + (minute.trade_count or 0) if both_known else None, None,
            )
        self._today[minute.symbol] = current
        return current
