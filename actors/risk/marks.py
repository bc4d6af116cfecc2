"""The last mark of every symbol risk has seen: the float it came as, its Decimal made when first needed.

Pure, no I/O. A batch marks every symbol of the universe, while few are held or traded: converting
each mark to Decimal (repr and parse) was a large share of risk's time per bar. A mark restored
from storage is a Decimal without a float.
"""

from __future__ import annotations

from decimal import Decimal

from cluster.foundation.domain.orders import price_decimal


class Marks:
    __slots__ = ("ns", "_floats", "_decimals")

    def __init__(self) -> None:
        self.ns: dict[str, int] = {}  # when each symbol was last marked
        self._floats: dict[str, float] = {}
        self._decimals: dict[str, Decimal] = {}

    def mark(self, symbol: str, price: float, ts_ns: int) -> None:
        self._floats[symbol] = price
        self.ns[symbol] = ts_ns
        self._decimals.pop(symbol, None)

    def mark_many(self, prices: dict[str, float], stamps: dict[str, int]) -> None:
        """mark() for each symbol of `prices` (at its time in `stamps`), in a few dict operations."""
        self._floats.update(prices)
        self.ns.update(stamps)
        decimals = self._decimals
        for symbol in decimals.keys() & prices.keys():
            del decimals[symbol]

    def restore(self, symbol: str, price: Decimal, ts_ns: int) -> None:
        """A mark from storage: no float, so that no signal price is taken as equal to it."""
        self._decimals[symbol] = price
        self.ns[symbol] = ts_ns
        self._floats.pop(symbol, None)

    def decimal(self, symbol: str) -> Decimal | None:
        """The last mark as a Decimal (converted once per mark), None before the first."""
        value = self._decimals.get(symbol)
        if value is None:
            price = self._floats.get(symbol)
            if price is None:
                return None
            value = self._decimals[symbol] = price_decimal(price)
        return value

    def as_float(self, symbol: str) -> float | None:
        return self._floats.get(symbol)
