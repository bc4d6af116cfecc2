"""Order books per symbol: top of book from quotes, full depth from level updates.

A crossed (bid > ask) or locked (bid == ask) book is bad data, not something to repair: the
book keeps what it was told and the keeper reports each anomaly through a callback and a count.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable
from typing import Literal

import msgspec

from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.wire import Bar, BookUpdate, Quote, Trade

BookSide = Literal["bid", "ask"]
BookState = Literal["ok", "locked", "crossed", "one_sided", "empty"]


class BookAnomaly(msgspec.Struct, frozen=True):
    """A book whose best bid is at or above its best ask after an update."""

    symbol: str
    ts_ns: int
    state: BookState
    best_bid: float
    best_ask: float


class _Side:
    """Price levels of one side; keys are sorted so that index 0 is the best level."""

    def __init__(self, descending: bool) -> None:
        self._sign = -1.0 if descending else 1.0
        self._keys: list[float] = []
        self._sizes: dict[float, float] = {}

    def set(self, price: float, size: float) -> None:
        key = self._sign * price
        if size == 0:
            if self._sizes.pop(key, None) is not None:
                del self._keys[bisect_left(self._keys, key)]
            return
        if key not in self._sizes:
            insort(self._keys, key)
        self._sizes[key] = size

    def replace_with(self, price: float, size: float) -> None:
        key = self._sign * price
        self._keys = [key]
        self._sizes = {key: size}

    def clear(self) -> None:
        self._keys = []
        self._sizes = {}

    def best(self) -> float | None:
        return self._sign * self._keys[0] if self._keys else None

    def levels(self, depth: int) -> list[tuple[float, float]]:
        return [(self._sign * key, self._sizes[key]) for key in self._keys[:depth]]

    def __len__(self) -> int:
        return len(self._keys)


def _check_level(symbol: str, price: float, size: float) -> None:
    if not (price > 0 and size >= 0):  # also rejects NaN
        raise BadInput(f"{symbol}: level price {price} / size {size} is not a usable level")


class OrderBook:
    """One symbol's book. snapshot() shows at most `depth` levels per side; deeper ones are kept
    so that removing a top level uncovers the next one."""

    def __init__(self, symbol: str, depth: int = 10) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.symbol = symbol
        self.depth = depth
        self.ts_ns = 0
        self._bids = _Side(descending=True)
        self._asks = _Side(descending=False)

    def apply_quote(self, q: Quote) -> None:
        """A top-of-book source: the quote is the whole known book (a side of price 0 is empty)."""
        for side, price, size in ((self._bids, q.bid, q.bid_size), (self._asks, q.ask, q.ask_size)):
            if price > 0 and size > 0:
                side.replace_with(price, size)
            elif price == 0 or size == 0:
                side.clear()
            else:
                _check_level(self.symbol, price, size)
        self.ts_ns = q.ts_ns

    def apply_level(self, side: BookSide, price: float, size: float, ts_ns: int | None = None) -> None:
        """Full-depth update: set the size at `price`; size 0 removes the level."""
        _check_level(self.symbol, price, size)
        if side == "bid":
            self._bids.set(price, size)
        elif side == "ask":
            self._asks.set(price, size)
        else:
            raise BadInput(f"{self.symbol}: unknown book side {side!r}")
        if ts_ns is not None:
            self.ts_ns = ts_ns

    @property
    def best_bid(self) -> float | None:
        return self._bids.best()

    @property
    def best_ask(self) -> float | None:
        return self._asks.best()

    @property
    def mid(self) -> float | None:
        bid, ask = self._bids.best(), self._asks.best()
        return None if bid is None or ask is None else (bid + ask) / 2

    @property
    def spread(self) -> float | None:
        bid, ask = self._bids.best(), self._asks.best()
        return None if bid is None or ask is None else ask - bid

    @property
    def state(self) -> BookState:
        bid, ask = self._bids.best(), self._asks.best()
        if bid is None and ask is None:
            return "empty"
        if bid is None or ask is None:
            return "one_sided"
        if bid > ask:
            return "crossed"
        return "locked" if bid == ask else "ok"

    def snapshot(self) -> BookUpdate:
        return BookUpdate(self.symbol, self.ts_ns, self._bids.levels(self.depth), self._asks.levels(self.depth))


class BookKeeper:
    """Books and last prices for every symbol seen; reports crossed and locked books."""

    def __init__(self, depth: int = 10, on_anomaly: Callable[[BookAnomaly], None] | None = None) -> None:
        self.depth = depth
        self.books: dict[str, OrderBook] = {}
        self.anomaly_count = 0
        self._on_anomaly = on_anomaly
        self._last_price: dict[str, float] = {}

    def book(self, symbol: str) -> OrderBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = OrderBook(symbol, self.depth)
        return book

    def apply(self, msg: Bar | Quote | Trade) -> BookUpdate | None:
        """A Quote updates the book and returns its snapshot; a Trade or Bar sets the last price."""
        if isinstance(msg, Quote):
            book = self.book(msg.symbol)
            book.apply_quote(msg)
            self._check(book)
            return book.snapshot()
        if isinstance(msg, Trade):
            self._last_price[msg.symbol] = msg.price
        elif isinstance(msg, Bar):
            self._last_price[msg.symbol] = msg.close
        else:
            raise BadInput(f"BookKeeper cannot apply {type(msg).__name__}")
        return None

    def apply_level(self, symbol: str, side: BookSide, price: float, size: float, ts_ns: int) -> BookUpdate:
        book = self.book(symbol)
        book.apply_level(side, price, size, ts_ns)
        self._check(book)
        return book.snapshot()

    def last_price(self, symbol: str) -> float | None:
        return self._last_price.get(symbol)

    def _check(self, book: OrderBook) -> None:
        state = book.state
        if state != "crossed" and state != "locked":
            return
        self.anomaly_count += 1
        if self._on_anomaly is not None:
            bid, ask = book.best_bid, book.best_ask
            assert bid is not None and ask is not None
            self._on_anomaly(BookAnomaly(book.symbol, book.ts_ns, state, bid, ask))
