"""Read the shipped CSVs (data/README.md) into replay events, ordered by time.

The file kind is told by its header, so the command line only lists paths. The rows are read and
checked by the project's one CSV reader (cluster/foundation/storage/market_files.py:read_rows), as the
replay feed reads them: every row becomes one frozen event, and a row that cannot be read (a
non-finite or non-positive price, a high below the low, a time going back) raises DataError naming
file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cluster.foundation.domain.wire import BarFields, QuoteFields
from cluster.foundation.storage.market_files import (
    QUOTE_BARS,
    TRADE_BARS,
    TRADE_TICKS,
    Row,
    RowParser,
    quote_bar_close,
    read_rows,
    trade_bar,
    trade_tick,
)

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
    return list(read_rows(path, _PARSERS))


def load_timeline(paths: Iterable[Path]) -> list[MarketEvent]:
    """Events of every file merged by publish time (stable: quotes before bars of the same minute)."""
    events: list[MarketEvent] = []
    for path in paths:
        events.extend(read_events(Path(path)))
    events.sort(key=lambda e: (e.publish_ns, 0 if isinstance(e, QuoteEvent) else 1))
    return events


def _bar(row: Row, ts_ns: int, line: int) -> BarEvent:
    bar = trade_bar(row, ts_ns, line)
    return BarEvent(symbol=bar.symbol, ts_ns=ts_ns, open=bar.open, high=bar.high, low=bar.low, close=bar.close,
                    volume=bar.volume)


def _quote(row: Row, ts_ns: int, line: int) -> QuoteEvent:
    quote = quote_bar_close(row, ts_ns, line)
    return QuoteEvent(symbol=quote.symbol, ts_ns=ts_ns, bid=quote.bid, bid_size=quote.bid_size, ask=quote.ask,
                      ask_size=quote.ask_size)


def _trade(row: Row, ts_ns: int, line: int) -> TradeEvent:
    trade = trade_tick(row, ts_ns, line)
    return TradeEvent(symbol=trade.symbol, ts_ns=ts_ns, price=trade.price, size=trade.size, exchange=trade.exchange,
                      trade_id=line)


_PARSERS: dict[str, RowParser[MarketEvent]] = {TRADE_BARS: _bar, QUOTE_BARS: _quote, TRADE_TICKS: _trade}
