"""Risk's view of the orders still working: quantity not yet filled, per order and per symbol and side.

An order is pending from its approval (or from the first report of an order risk did not send:
one placed by hand in the account, or a broker's replacement) until its final report. A report of
one of our own orders that is not pending (it finished, possibly before a restart) adopts nothing. Its
remaining quantity shrinks by the shares the fill ledger books for it, so the books agree whatever
order the reports arrive in.

Replacements: a broker that replaces an order (Alpaca's PATCH) reports the old order `replaced` and
works a new one under a new id, without a link on our wire. The old order keeps its pending
quantity until a new order of the same symbol and side appears, which then takes its place; when
the new order is reported first, the old one ends as soon as its `replaced` report comes (at once
for an order restored from storage: its replacement may have been reported before the restart). (An order
placed by hand in the same symbol and side can be taken for a replacement: the pending quantity of
the replaced order is then released when the real replacement's first report adopts it.)
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from cluster.foundation.domain.orders import is_terminal_status
from cluster.foundation.domain.wire import OrderUpdate

ZERO = Decimal(0)


class _Pending:
    __slots__ = ("symbol", "is_buy", "remaining")

    def __init__(self, symbol: str, is_buy: bool, remaining: Decimal) -> None:
        self.symbol = symbol
        self.is_buy = is_buy
        self.remaining = remaining


class PendingOrders:
    def __init__(self, is_ours: Callable[[str], bool] = lambda coid: False) -> None:
        self._is_ours = is_ours
        self._orders: dict[str, _Pending] = {}
        self._seen: set[str] = set()  # every order ever pending: a late report of a finished one adopts nothing
        self._restored: set[str] = set()  # pending since a restore from storage
        self._buy: dict[str, Decimal] = {}
        self._sell: dict[str, Decimal] = {}
        self._replaced: dict[tuple[str, bool], list[str]] = {}  # old orders waiting for their replacement
        self._unlinked: dict[tuple[str, bool], list[str]] = {}  # adopted orders not yet matched to a replaced one
        # symbols with a position or a pending order -> max(|held + pending buys|, |held - pending sells|)
        self._worst_qty: dict[str, Decimal] = {}

    # ---- queries -----------------------------------------------------------------------------

    def buy(self, symbol: str) -> Decimal:
        return self._buy.get(symbol, ZERO)

    def sell(self, symbol: str) -> Decimal:
        return self._sell.get(symbol, ZERO)

    def has_pending(self, symbol: str) -> bool:
        return symbol in self._buy or symbol in self._sell

    def symbols(self) -> set[str]:
        return set(self._buy) | set(self._sell)

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._orders

    def active_symbols(self) -> int:
        """Symbols held or with an order pending (what the open-positions limit counts)."""
        return len(self._worst_qty)

    def worst_case_exposure(self, price_of: Callable[[str], Decimal]) -> Decimal:
        """Sum of |position| in USD if every pending order in one direction fills and none in the other."""
        total = ZERO
        for symbol, qty in self._worst_qty.items():
            total += qty * price_of(symbol)
        return total

    def refresh(self, symbol: str, held: Decimal) -> None:
        """Recompute the symbol's worst-case quantity after its position or its pending orders changed."""
        if held or symbol in self._buy or symbol in self._sell:
            long_side = abs(held + self._buy.get(symbol, ZERO))
            short_side = abs(held - self._sell.get(symbol, ZERO))
            self._worst_qty[symbol] = long_side if long_side > short_side else short_side
        else:
            self._worst_qty.pop(symbol, None)

    def remaining(self, client_order_id: str) -> Decimal:
        pending = self._orders.get(client_order_id)
        return pending.remaining if pending is not None else ZERO

    # ---- changes -----------------------------------------------------------------------------

    def add(self, client_order_id: str, symbol: str, is_buy: bool, qty: Decimal, restored: bool = False) -> None:
        if client_order_id not in self._seen and qty > 0:
            self._put(client_order_id, symbol, is_buy, qty)
            if restored:
                self._restored.add(client_order_id)

    def _put(self, client_order_id: str, symbol: str, is_buy: bool, qty: Decimal) -> None:
        self._orders[client_order_id] = _Pending(symbol, is_buy, qty)
        self._seen.add(client_order_id)
        book = self._buy if is_buy else self._sell
        book[symbol] = book.get(symbol, ZERO) + qty

    def on_update(self, update: OrderUpdate, newly_filled: Decimal, booked_total: Decimal) -> None:
        """Apply one report: shrink by the shares newly booked, end the order on a final status."""
        coid = update.client_order_id
        pending = self._orders.get(coid)
        is_buy = update.side == "buy"
        if pending is None:
            if coid not in self._seen and not self._is_ours(coid):
                self._adopt(update, is_buy, booked_total)
            return
        if newly_filled > 0:
            self._shrink(pending, newly_filled)
        if update.status == "replaced":
            key = (pending.symbol, pending.is_buy)
            if coid in self._restored:  # its replacement may have come before the restart: no wait
                self._end(coid)
            elif self._unlinked.get(key):
                self._unlinked[key].pop(0)
                self._end(coid)
            else:
                self._replaced.setdefault(key, []).append(coid)
        elif is_terminal_status(update.status) or pending.remaining <= 0:
            self._end(coid)

    def clear(self) -> None:
        self._orders.clear()
        self._seen.clear()
        self._restored.clear()
        self._buy.clear()
        self._sell.clear()
        self._replaced.clear()
        self._unlinked.clear()
        self._worst_qty.clear()

    def _adopt(self, update: OrderUpdate, is_buy: bool, booked_total: Decimal) -> None:
        """First report of an order we did not send: it replaces a replaced order, or is pending on its own."""
        coid, key = update.client_order_id, (update.symbol, is_buy)
        self._seen.add(coid)
        waiting = self._replaced.get(key)
        if waiting:
            self._end(waiting.pop(0))
        else:
            self._unlinked.setdefault(key, []).append(coid)
        remaining = update.qty - max(update.filled_qty, booked_total)
        if not is_terminal_status(update.status) and remaining > 0:
            self._put(coid, update.symbol, is_buy, remaining)

    def _shrink(self, pending: _Pending, qty: Decimal) -> None:
        qty = min(qty, pending.remaining)
        pending.remaining -= qty
        book = self._buy if pending.is_buy else self._sell
        left = book.get(pending.symbol, ZERO) - qty
        if left > 0:
            book[pending.symbol] = left
        else:
            book.pop(pending.symbol, None)

    def _end(self, client_order_id: str) -> None:
        pending = self._orders.pop(client_order_id, None)
        if pending is None:
            return
        self._shrink(pending, pending.remaining)
        for coids in self._replaced.values():  # an adopted order stays unlinked after it ends: it may still
            if client_order_id in coids:  # be the replacement of a `replaced` report that comes late
                coids.remove(client_order_id)
