"""Alpaca market-data frames (stocks v2, crypto v1beta3; JSON or msgpack) -> cluster.foundation.domain.wire messages.

A frame is an array of messages keyed by "T" (docs/alpaca-protocol.md A3). The whole frame is
decoded in one typed msgspec call (the fast path); only when that fails is it split into single
messages, so one malformed or unknown message costs itself and never its neighbours. Nothing
here does I/O: FeedParser is a pure, stateful (order books) converter.

Nothing a server sends makes parse() raise: undecodable bytes, invalid UTF-8, absurd nesting or
wrong types become FrameProblems the caller counts (the frame is a trust boundary).

Timestamps become int UTC nanoseconds without losing digits: JSON stamps are RFC-3339 strings
with up to 9 fractional digits, msgpack stamps are Timestamp extensions (type -1), which are
decoded by hand because datetime would truncate them to microseconds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from math import isfinite
from typing import Any, Final, Literal

import msgspec

from actors.execution.alpaca_updates import parse_rfc3339_ns
from actors.market_data.book import BookKeeper, OrderBook
from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.wire import Bar, BookUpdate, Quote, Trade

FeedItem = Bar | Quote | Trade | BookUpdate
ProblemKind = Literal["bad_frame", "bad_message", "unknown_type"]
NS_PER_S: Final = 1_000_000_000
# Known channels the client does not turn into wire messages (statuses, LULD, corrections, ...).
IGNORED_TYPES: Final = ("u", "d", "s", "l", "c", "x", "n", "i")
# What decoding hostile bytes may raise besides msgspec's own errors: invalid UTF-8 in msgpack
# strings, nesting deeper than the interpreter allows, unhashable or odd values in loose decoding.
_DECODE_ERRORS: Final = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError,
                         TypeError, ValueError, OverflowError)


@dataclass(frozen=True, slots=True)
class Control:
    """A control message: success (msg), error (code, msg) or subscription (channel -> symbols)."""

    kind: Literal["success", "error", "subscription"]
    msg: str = ""
    code: int = 0
    channels: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrameProblem:
    kind: ProblemKind
    detail: str


@dataclass(slots=True)
class ParsedFrame:
    items: list[FeedItem] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    problems: list[FrameProblem] = field(default_factory=list)
    ignored: int = 0


# ---- timestamps --------------------------------------------------------------------------------
_minute_cache: dict[str, int] = {}


def rfc3339_to_ns(text: str) -> int:
    """UTC ns of an Alpaca stamp; a cached fast path for '...:SS[.fffffffff]Z', else the general parser."""
    if len(text) >= 20 and text[-1] == "Z" and text[16] == ":" and (len(text) == 20 or text[19] == "."):
        base = _minute_cache.get(text[:16])
        if base is None:
            if len(_minute_cache) > 100_000:
                _minute_cache.clear()
            base = _minute_cache[text[:16]] = parse_rfc3339_ns(text[:16] + ":00Z")
        seconds = text[17:19]
        if seconds.isdigit():
            digits = text[20:-1]
            if len(text) == 20:
                return base + int(seconds) * NS_PER_S
            if digits.isdigit() and len(digits) <= 9:
                return base + int(seconds) * NS_PER_S + int(digits.ljust(9, "0"))
    return parse_rfc3339_ns(text)


def ext_to_ns(ext: msgspec.msgpack.Ext) -> int:
    """UTC ns of a msgpack Timestamp extension in its 32, 64 or 96 bit form."""
    if ext.code != -1:
        raise ValueError(f"msgpack extension {ext.code} is not a timestamp")
    data = bytes(ext.data)
    if len(data) == 4:
        return struct.unpack(">I", data)[0] * NS_PER_S
    if len(data) == 8:
        packed = struct.unpack(">Q", data)[0]
        return (packed & 0x3_FFFF_FFFF) * NS_PER_S + (packed >> 34)
    if len(data) == 12:
        nanos, seconds = struct.unpack(">Iq", data)
        return seconds * NS_PER_S + nanos
    raise ValueError(f"msgpack timestamp of {len(data)} bytes")


# ---- raw schemas (field names are Alpaca's, renamed to readable ones) ---------------------------
def _schemas(stamp: Any) -> tuple[type, ...]:
    level = msgspec.defstruct("Level", [("p", float), ("s", float)])
    common: dict[str, Any] = {"tag_field": "T", "frozen": True}
    trade = msgspec.defstruct(
        "RawTrade", [("symbol", str), ("price", float), ("size", float), ("t", stamp), ("exchange", str, "")],
        tag="t", rename={"symbol": "S", "price": "p", "size": "s", "exchange": "x"}, **common,
    )
    quote = msgspec.defstruct(
        "RawQuote",
        [("symbol", str), ("bid", float), ("bid_size", float), ("ask", float), ("ask_size", float), ("t", stamp),
         ("bid_exchange", str, ""), ("ask_exchange", str, "")],
        tag="q", rename={"symbol": "S", "bid": "bp", "bid_size": "bs", "ask": "ap", "ask_size": "as",
                         "bid_exchange": "bx", "ask_exchange": "ax"}, **common,
    )
    bar = msgspec.defstruct(
        "RawBar",
        [("symbol", str), ("open", float), ("high", float), ("low", float), ("close", float), ("volume", float),
         ("t", stamp), ("trade_count", int | None, None), ("vwap", float | None, None)],
        tag="b", rename={"symbol": "S", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "v",
                         "trade_count": "n", "vwap": "vw"}, **common,
    )
    book = msgspec.defstruct(
        "RawBook", [("symbol", str), ("t", stamp), ("bids", list[level], []), ("asks", list[level], []),  # type: ignore[valid-type]
                    ("reset", bool, False)],
        tag="o", rename={"symbol": "S", "bids": "b", "asks": "a", "reset": "r"}, **common,
    )
    success = msgspec.defstruct("RawSuccess", [("msg", str, "")], tag="success", **common)
    error = msgspec.defstruct("RawError", [("code", int, 0), ("msg", str, "")], tag="error", **common)
    subscription = msgspec.defstruct(
        "RawSubscription",
        [(name, list[str], []) for name in ("trades", "quotes", "bars", "orderbooks", "updatedBars", "dailyBars")],
        tag="subscription", **common,
    )
    ignored = tuple(msgspec.defstruct(f"Ignored_{t}", [], tag=t, **common) for t in IGNORED_TYPES)
    return (trade, quote, bar, book, success, error, subscription, *ignored)


_JSON_TYPES = _schemas(str)
_MSGPACK_TYPES = _schemas(msgspec.msgpack.Ext)


class _Codec:
    def __init__(self, msgpack: bool) -> None:
        types = _MSGPACK_TYPES if msgpack else _JSON_TYPES
        union: Any = types[0]
        for extra in types[1:]:
            union = union | extra
        module: Any = msgspec.msgpack if msgpack else msgspec.json
        self.frame = module.Decoder(list[union])
        self.one = module.Decoder(union)
        self.split = module.Decoder(list[msgspec.Raw])
        self.loose = module.Decoder()
        self.stamp = ext_to_ns if msgpack else rfc3339_to_ns
        self.trade, self.quote, self.bar, self.book, self.success, self.error, self.subscription = types[:7]


class FeedParser:
    """Parses one connection's frames; keeps crypto order books to turn level updates into snapshots."""

    def __init__(self, *, msgpack: bool, book_depth: int = 10) -> None:
        self.msgpack = msgpack
        self._codec = _Codec(msgpack)
        self.books = BookKeeper(book_depth)

    def parse(self, frame: bytes | str) -> ParsedFrame:
        """Items, controls and problems of one frame; never raises for anything the frame contains."""
        out = ParsedFrame()
        codec = self._codec
        try:
            messages = codec.frame.decode(frame)
        except _DECODE_ERRORS:
            messages = self._split(frame, out)
        for message in messages:
            try:
                self._convert(message, out)
            except (ValueError, OverflowError, TypeError, BadInput, struct.error) as exc:
                out.problems.append(FrameProblem("bad_message", f"{type(message).__name__}: {exc}"))
        return out

    def _split(self, frame: bytes | str, out: ParsedFrame) -> list[Any]:
        """Slow path: decode message by message to name what is wrong with which one."""
        codec = self._codec
        try:
            raws = codec.split.decode(frame)
        except _DECODE_ERRORS as exc:
            out.problems.append(FrameProblem("bad_frame", f"not an array of messages ({_short(exc)}): {_head(frame)}"))
            return []
        good: list[Any] = []
        for raw in raws:
            try:
                good.append(codec.one.decode(raw))
            except _DECODE_ERRORS as exc:
                out.problems.append(self._classify(raw, exc))
        return good

    def _classify(self, raw: msgspec.Raw, exc: BaseException) -> FrameProblem:
        try:
            loose = self._codec.loose.decode(raw)
        except _DECODE_ERRORS:
            loose = None
        kind = loose.get("T") if isinstance(loose, dict) else None
        shown = _head(bytes(raw))
        if not isinstance(kind, str):
            return FrameProblem("bad_message", f"message without a string type T: {_short(exc)}: {shown}")
        if kind not in _KNOWN_TAGS:
            return FrameProblem("unknown_type", f"unknown message type T={kind[:40]!r}: {shown}")
        return FrameProblem("bad_message", f"T={kind!r}: {_short(exc)}: {shown}")

    def _convert(self, m: Any, out: ParsedFrame) -> None:
        codec = self._codec
        kind = type(m)
        if kind is codec.trade:
            _require_finite(m.symbol, m.price, m.size)
            out.items.append(Trade(m.symbol, codec.stamp(m.t), m.price, m.size, m.exchange))
        elif kind is codec.quote:
            _require_finite(m.symbol, m.bid, m.bid_size, m.ask, m.ask_size)
            out.items.append(Quote(m.symbol, codec.stamp(m.t), m.bid, m.bid_size, m.ask, m.ask_size,
                                   m.bid_exchange, m.ask_exchange))
        elif kind is codec.bar:
            _require_finite(m.symbol, m.open, m.high, m.low, m.close, m.volume)
            if m.low > m.high:
                raise ValueError(f"{m.symbol}: bar low {m.low} above high {m.high}")
            out.items.append(Bar(m.symbol, codec.stamp(m.t), m.open, m.high, m.low, m.close, m.volume,
                                 m.trade_count, m.vwap))
        elif kind is codec.book:
            out.items.append(self._apply_book(m, codec.stamp(m.t)))
        elif kind is codec.success:
            out.controls.append(Control("success", msg=m.msg))
        elif kind is codec.error:
            out.controls.append(Control("error", msg=m.msg, code=m.code))
        elif kind is codec.subscription:
            channels = {name: list(getattr(m, name)) for name in m.__struct_fields__}
            out.controls.append(Control("subscription", channels=channels))
        else:
            out.ignored += 1

    def _apply_book(self, m: Any, ts_ns: int) -> BookUpdate:
        """r=true carries the whole book; otherwise each level is set, and size 0 removes it."""
        if m.reset:
            self.books.books[m.symbol] = OrderBook(m.symbol, self.books.depth)
        book = self.books.book(m.symbol)
        for level in m.bids:
            book.apply_level("bid", level.p, level.s)
        for level in m.asks:
            book.apply_level("ask", level.p, level.s)
        book.ts_ns = ts_ns
        return book.snapshot()


_KNOWN_TAGS: Final = frozenset({"t", "q", "b", "o", "success", "error", "subscription", *IGNORED_TYPES})


def _require_finite(symbol: str, *values: float) -> None:
    if not symbol:
        raise ValueError("empty symbol")
    for value in values:
        if not isfinite(value):
            raise ValueError(f"{symbol}: non-finite number {value}")


def _head(frame: bytes | str) -> str:
    return repr(frame[:160])


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"
