"""Readers for the shipped CSV formats (data/README.md) and one merged, time-ordered stream.

Each reader is a generator of cluster.foundation.domain.wire messages. A bad row (invalid UTF-8 included, and any
price that is not a positive finite number) becomes a DataError naming file and line: raised when
on_error is None, otherwise reported and skipped while every other row is still delivered. Parsing uses plain split and int arithmetic (no datetime per row) for speed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from math import isfinite
from pathlib import Path
from typing import Final

from cluster.foundation.domain.errors import DataError
from cluster.foundation.domain.wire import Bar, Quote, Trade
from cluster.foundation.storage.csv_time import NS_PER_DAY, RowError, day_ns, parse_utc_ns

OnError = Callable[[DataError], None] | None
MarketData = Bar | Quote | Trade
Row = list[str]
type RowParser[T] = Callable[[Row, int, int], T | None]  # (row, ts_ns, line number) -> message, or None

_INF: Final = float("inf")

TRADE_BARS: Final = "symbol,timestamp,open,high,low,close,volume"
QUOTE_BARS: Final = (
    "symbol,timestamp,bid_open,bid_high,bid_low,bid_close,bid_size,ask_open,ask_high,ask_low,ask_close,ask_size"
)
TRADE_TICKS: Final = "symbol,timestamp,price,size,exchange,condition_flags_hex,suspicious"
QUOTE_TICKS: Final = "symbol,timestamp,bid_price,bid_size,ask_price,ask_size,exchange,condition_flags_hex,suspicious"
DAILY_BARS: Final = "symbol,date,timestamp,open,high,low,close,volume"

# At one instant the quote in force comes first, then prints, then bars (a bar stamped at its
# start is only complete at its end, so it must not overtake the quote of the same instant).
KIND_RANK: Final[dict[type, int]] = {Quote: 0, Trade: 1, Bar: 2}


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{name} {text!r} is not a number") from None
    if not isfinite(value):
        raise RowError(f"{name} {text!r} is not finite")
    if value < 0:
        raise RowError(f"{name} {text!r} is negative")
    return value


def _price(text: str, name: str) -> float:
    value = _number(text, name)
    if value == 0:
        raise RowError(f"{name} {text!r} is zero")
    return value


def _ohlc(row: Row, first: int, name: str) -> tuple[float, float, float, float]:
    o = _price(row[first], f"{name}open")
    h = _price(row[first + 1], f"{name}high")
    lo = _price(row[first + 2], f"{name}low")
    c = _price(row[first + 3], f"{name}close")
    if h < lo:
        raise RowError(f"{name}high {h} < {name}low {lo}")
    if not lo <= o <= h or not lo <= c <= h:
        raise RowError(f"{name}open/close outside [{name}low, {name}high]")
    return o, h, lo, c


# Each parser tries a fast path (plain float() and one chained comparison, which NaN also fails)
# and only on failure re-checks field by field to name the precise reason.


def trade_bar(row: Row, ts_ns: int, _line: int = 0) -> Bar:
    try:
        o, h, lo, c, v = float(row[2]), float(row[3]), float(row[4]), float(row[5]), float(row[6])
        if 0 < lo <= o <= h < _INF and lo <= c <= h and 0 <= v < _INF:
            return Bar(row[0], ts_ns, o, h, lo, c, v)
    except ValueError:
        pass
    o, h, lo, c = _ohlc(row, 2, "")
    return Bar(row[0], ts_ns, o, h, lo, c, _number(row[6], "volume"))


def daily_bar(row: Row, ts_ns: int, _line: int = 0) -> Bar:
    if row[2][:10] != row[1]:
        raise RowError(f"date {row[1]!r} does not match timestamp {row[2]!r}")
    return trade_bar([row[0], row[2], *row[3:]], ts_ns)


def quote_bar(row: Row, ts_ns: int, _line: int = 0) -> Quote:
    """The quote in force at the bar's start: open bid/ask (sizes are the file's, taken at bar close)."""
    try:
        bo, bh, bl, bc, bs = float(row[2]), float(row[3]), float(row[4]), float(row[5]), float(row[6])
        ao, ah, al, ac, az = float(row[7]), float(row[8]), float(row[9]), float(row[10]), float(row[11])
        if (
            0 < bl <= bo <= bh < _INF and bl <= bc <= bh and 0 <= bs < _INF
            and 0 < al <= ao <= ah < _INF and al <= ac <= ah and 0 <= az < _INF
        ):
            return Quote(row[0], ts_ns, bo, bs, ao, az)
    except ValueError:
        pass
    bid = _ohlc(row, 2, "bid_")[0]
    ask = _ohlc(row, 7, "ask_")[0]
    return Quote(row[0], ts_ns, bid, _number(row[6], "bid_size"), ask, _number(row[11], "ask_size"))


def trade_tick(row: Row, ts_ns: int, _line: int = 0) -> Trade:
    try:
        price, size = float(row[2]), float(row[3])
        if 0 < price < _INF and 0 <= size < _INF:
            return Trade(row[0], ts_ns, price, size, row[4])
    except ValueError:
        pass
    return Trade(row[0], ts_ns, _price(row[2], "price"), _number(row[3], "size"), row[4])


_Level = tuple[str, tuple[float, float, int]]  # exchange, (price, size, arrival)


def _bid_priority(level: _Level) -> tuple[float, float, int]:
    price, size, arrival = level[1]
    return (price, size, -arrival)


def _ask_priority(level: _Level) -> tuple[float, float, int]:
    price, size, arrival = level[1]
    return (-price, size, -arrival)


class NbboBuilder:
    """Keeps each exchange's last bid and ask and emits the national best when it changes.

    Among exchanges at the best price the SIPs' rule picks one: larger size first, then the
    earlier quote; the NBBO size is that exchange's size. Nothing is emitted until both sides
    are known.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[str, tuple[float, float, int]] = {}  # exchange -> (price, size, arrival)
        self._asks: dict[str, tuple[float, float, int]] = {}
        self._arrivals = 0
        self._last: tuple[float, float, str, float, float, str] | None = None

    def update(self, row: Row, ts_ns: int) -> Quote | None:
        bid, bid_size = _number(row[2], "bid_price"), _number(row[3], "bid_size")
        ask, ask_size = _number(row[4], "ask_price"), _number(row[5], "ask_size")
        exchange = row[6]
        if not exchange:
            raise RowError("empty exchange")
        if (bid > 0) == (ask > 0):
            raise RowError("a quote tick must update exactly one side")
        self._arrivals += 1
        if bid > 0:
            self._bids[exchange] = (bid, bid_size, self._arrivals)
        else:
            self._asks[exchange] = (ask, ask_size, self._arrivals)
        return self._emit_if_changed(ts_ns)

    def _emit_if_changed(self, ts_ns: int) -> Quote | None:
        if not self._bids or not self._asks:
            return None
        bid_exchange, (bid, bid_size, _) = max(self._bids.items(), key=_bid_priority)
        ask_exchange, (ask, ask_size, _) = max(self._asks.items(), key=_ask_priority)
        best = (bid, bid_size, bid_exchange, ask, ask_size, ask_exchange)
        if best == self._last:
            return None
        self._last = best
        return Quote(self.symbol, ts_ns, bid, bid_size, ask, ask_size, bid_exchange, ask_exchange)


def quote_bar_close(row: Row, ts_ns: int, _line: int = 0) -> Quote:
    """The quote in force at the bar's end: close bid/ask (the row is checked as quote_bar checks it)."""
    quote_bar(row, ts_ns)
    return Quote(row[0], ts_ns, float(row[5]), float(row[6]), float(row[10]), float(row[11]))


def _nbbo_parser() -> RowParser[Quote]:
    """Quote ticks: one NbboBuilder per symbol, for one pass over one file."""
    builders: dict[str, NbboBuilder] = {}

    def parse(row: Row, ts_ns: int, _line: int) -> Quote | None:
        builder = builders.get(row[0])
        if builder is None:
            builder = builders[row[0]] = NbboBuilder(row[0])
        return builder.update(row, ts_ns)

    return parse


ROW_PARSERS: Final[dict[str, RowParser[MarketData]]] = {
    TRADE_BARS: trade_bar,
    QUOTE_BARS: quote_bar,
    TRADE_TICKS: trade_tick,
    DAILY_BARS: daily_bar,
}
KNOWN_HEADERS: Final = (TRADE_BARS, QUOTE_BARS, TRADE_TICKS, QUOTE_TICKS, DAILY_BARS)


def detect_format(path: str | Path) -> str:
    """The header line of `path`, if it is one of KNOWN_HEADERS; DataError otherwise."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        header = handle.readline().strip().lstrip("\ufeff")
    if header not in KNOWN_HEADERS:
        raise DataError(str(path), 1, f"unknown header {header!r}")
    return header


def _require_utf8(line: str) -> None:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RowError(f"invalid UTF-8 byte at column {exc.start + 1}") from None


def _report(error: DataError, on_error: OnError) -> None:
    if on_error is None:
        raise error
    on_error(error)


def read_file(path: str | Path, on_error: OnError = None) -> Iterator[MarketData]:
    """Every message of one file in file order, whatever its (detected) format."""
    return read_rows(path, {**ROW_PARSERS, QUOTE_TICKS: _nbbo_parser()}, on_error)


def read_rows[T](path: str | Path, parsers: Mapping[str, RowParser[T]], on_error: OnError = None) -> Iterator[T]:
    """The messages `parsers[header]` makes of the rows of one file, in file order.

    Every row is checked first (UTF-8, column count, a symbol, a timestamp not earlier than the previous
    row of its symbol); a parser raises RowError for a row it refuses. A file whose header has no parser
    is a DataError. The one CSV reader of the project: the replay feed, training and the simulator."""
    header = detect_format(path)
    source = str(path)
    parse_row = parsers.get(header)
    if parse_row is None:
        raise DataError(source, 1, f"header {header!r} is not one of the formats read here: {sorted(parsers)}")
    columns = header.count(",") + 1
    ts_column = 2 if header == DAILY_BARS else 1
    last_ts: dict[str, int] = {}
    # Undecodable bytes become lone surrogates here, so that one bad byte costs only its own row.
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        handle.readline()
        for line_no, line in enumerate(handle, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            row = line.split(",")
            try:
                if not line.isascii():
                    _require_utf8(line)
                if len(row) != columns:
                    raise RowError(f"expected {columns} columns, got {len(row)}")
                symbol = row[0]
                if not symbol:
                    raise RowError("empty symbol")
                ts_ns = parse_utc_ns(row[ts_column])
                previous = last_ts.get(symbol)
                if previous is not None and ts_ns < previous:
                    raise RowError(f"timestamp {row[ts_column]} is earlier than the previous {symbol} row")
                message = parse_row(row, ts_ns, line_no)
            except RowError as exc:
                _report(DataError(source, line_no, str(exc)), on_error)
                continue
            last_ts[symbol] = ts_ns
            if message is not None:
                yield message


def read_trade_bars(path: str | Path, on_error: OnError = None) -> Iterator[Bar]:
    return _read_expecting(path, TRADE_BARS, on_error)  # type: ignore[return-value]


def read_quote_bars(path: str | Path, on_error: OnError = None) -> Iterator[Quote]:
    return _read_expecting(path, QUOTE_BARS, on_error)  # type: ignore[return-value]


def read_trade_ticks(path: str | Path, on_error: OnError = None) -> Iterator[Trade]:
    return _read_expecting(path, TRADE_TICKS, on_error)  # type: ignore[return-value]


def read_quote_ticks(path: str | Path, on_error: OnError = None) -> Iterator[Quote]:
    """NBBO Quotes (with bid_exchange/ask_exchange) built from per-exchange one-sided ticks."""
    return _read_expecting(path, QUOTE_TICKS, on_error)  # type: ignore[return-value]


def read_daily_bars(path: str | Path, on_error: OnError = None) -> Iterator[Bar]:
    return _read_expecting(path, DAILY_BARS, on_error)  # type: ignore[return-value]


def _read_expecting(path: str | Path, header: str, on_error: OnError) -> Iterator[MarketData]:
    found = detect_format(path)
    if found != header:
        raise DataError(str(path), 1, f"header {found!r} is not the expected {header!r}")
    return read_file(path, on_error)


def merge_key(message: MarketData) -> tuple[int, int, str]:
    """Total order of the merged stream: time, then quote < trade < bar, then symbol."""
    return (message.ts_ns, KIND_RANK[type(message)], message.symbol)


def _utc_day_bounds(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    try:
        low = None if start is None else day_ns(start)
        high = None if end is None else day_ns(end) + NS_PER_DAY
    except RowError as exc:
        raise ValueError(f"start/end must be YYYY-MM-DD: {exc}") from None
    return low, high


def open_source(
    paths: Sequence[str | Path],
    start: str | None = None,
    end: str | None = None,
    symbols: Collection[str] | None = None,
    on_error: OnError = None,
) -> Iterator[MarketData]:
    """All files merged into one stream ordered by merge_key; start/end are inclusive UTC dates.

    The shipped files are grouped by symbol rather than by time, so each file is read once into
    per-symbol runs (each already time-ordered, which the readers check), and the runs are merged
    by one stable sort. Ties are broken by the order of `paths`: fully deterministic.
    """
    low, high = _utc_day_bounds(start, end)
    wanted = None if symbols is None else frozenset(symbols)
    return _merged(list(paths), low, high, wanted, on_error)


def _merged(
    paths: list[str | Path], low: int | None, high: int | None, wanted: frozenset[str] | None, on_error: OnError
) -> Iterator[MarketData]:
    runs: list[list[MarketData]] = []
    for path in paths:
        by_symbol: dict[str, list[MarketData]] = {}
        for message in read_file(path, on_error):
            if wanted is not None and message.symbol not in wanted:
                continue
            if (low is not None and message.ts_ns < low) or (high is not None and message.ts_ns >= high):
                continue
            run = by_symbol.get(message.symbol)
            if run is None:
                run = by_symbol[message.symbol] = []
            run.append(message)
        runs.extend(by_symbol.values())
    # Every run is in memory already: one stable sort of their concatenation is heapq.merge's order
    # (ties by run, then position in the run) at a fraction of its per-message cost.
    merged = [message for run in runs for message in run]
    del runs
    merged.sort(key=merge_key)
    yield from merged
