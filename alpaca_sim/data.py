"""Read the shipped CSVs (data/README.md) into replay events, ordered by time.

The file kind is told by its header, so the command line only lists paths. Every row becomes
one frozen event; a row that cannot be read raises DataError naming file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from alpaca_sim.timefmt import parse_rfc3339_ns
from cluster.foundation.errors import DataError
from cluster.foundation.wire import BarFields, QuoteFields

_BAR_HEADER = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
_QUOTE_HEADER = [
    "symbol", "timestamp", "bid_open", "bid_high", "bid_low", "bid_close", "bid_size",
    "ask_open", "ask_high", "ask_low", "ask_close", "ask_size",
]
_TRADE_TICK_HEADER = ["symbol", "timestamp", "price", "size", "exchange", "condition_flags_hex", "suspicious"]
_BAR_NS = 60 * 1_000_000_000


class _PublishedAtBarEnd:
    """A bar-sized event (a trade bar, a quote bar's close) stamped with its bar start: it is published
    at the bar's end."""

    __slots__ = ()
    ts_ns: int

    @property
    def publish_ns(self) -> int:
        return self.ts_ns + _BAR_NS


class BarEvent(BarFields, _PublishedAtBarEnd, frozen=True):
    """A one-minute trade bar; `ts_ns` is the bar start, it is published at `publish_ns` (its end)."""


class QuoteEvent(QuoteFields, _PublishedAtBarEnd, frozen=True):
    """Top of book at the close of a quote bar, published at the bar's end."""


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One trade print from a tick file; published at its own time."""

    symbol: str
    ts_ns: int
    price: float
    size: float
    exchange: str
    trade_id: int

    @property
    def publish_ns(self) -> int:
        return self.ts_ns


MarketEvent = BarEvent | QuoteEvent | TradeEvent


def is_crypto(symbol: str) -> bool:
    return "/" in symbol


def read_events(path: Path) -> list[MarketEvent]:
    """All events of one CSV file; the kind is recognised from the header."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header == _BAR_HEADER:
            return list(_rows(path, reader, _bar))
        if header == _QUOTE_HEADER:
            return list(_rows(path, reader, _quote))
        if header == _TRADE_TICK_HEADER:
            return list(_rows(path, reader, _trade))
    raise DataError(str(path), 1, f"unrecognised header {header}")


def load_timeline(paths: Iterable[Path]) -> list[MarketEvent]:
    """Events of every file merged by publish time (stable: quotes before bars of the same minute)."""
    events: list[MarketEvent] = []
    for path in paths:
        events.extend(read_events(Path(path)))
    events.sort(key=lambda e: (e.publish_ns, 0 if isinstance(e, QuoteEvent) else 1))
    return events


def _rows(path: Path, reader: Iterator[list[str]], build: object) -> Iterator[MarketEvent]:
    assert callable(build)
    for line, row in enumerate(reader, start=2):
        try:
            yield build(row, line)
        except (ValueError, IndexError) as exc:
            raise DataError(str(path), line, f"unreadable row {row}: {exc}") from exc


def _bar(row: list[str], _line: int) -> BarEvent:
    return BarEvent(
        symbol=row[0], ts_ns=parse_rfc3339_ns(row[1]), open=float(row[2]), high=float(row[3]),
        low=float(row[4]), close=float(row[5]), volume=float(row[6]),
    )


def _quote(row: list[str], _line: int) -> QuoteEvent:
    return QuoteEvent(
        symbol=row[0], ts_ns=parse_rfc3339_ns(row[1]), bid=float(row[5]), bid_size=float(row[6]),
        ask=float(row[10]), ask_size=float(row[11]),
    )


def _trade(row: list[str], line: int) -> TradeEvent:
    return TradeEvent(
        symbol=row[0], ts_ns=parse_rfc3339_ns(row[1]), price=float(row[2]), size=float(row[3]),
        exchange=row[4], trade_id=line,
    )
