"""Portfolio accounting with average cost: positions, cash, realized and unrealized P&L, per trading day.

Everything is exact Decimal, so the invariants can be checked with `==`. The identity behind them:
cash + cost basis of the open positions == initial cash + every realized P&L ever (commissions
included), hence equity == initial cash + realized + unrealized, and the day's total P&L is the
change of equity since the day started.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from cluster.foundation.domain.errors import TradingError
from cluster.foundation.domain.records import DailyPnlRow, PositionRow

ZERO = Decimal(0)
COST_QUANTUM = Decimal("1e-12")  # rounding of the cost taken out by a partial close


class AccountingError(TradingError):
    """The books do not add up; the message names the invariant that broke and the numbers."""


class _Position:
    """Mutable state of one symbol; only Portfolio touches it."""

    __slots__ = ("qty", "cost", "last_price", "realized", "fills_qty", "opened_at_ns", "updated_at_ns", "in_sum")

    def __init__(self) -> None:
        self.qty = ZERO
        self.cost = ZERO  # signed cost basis of the open quantity, exact (qty x average price)
        self.last_price: Decimal | None = None
        self.realized = ZERO  # every realized P&L of this symbol since the books began
        self.fills_qty = ZERO  # signed sum of all fills (and of the restored opening quantity)
        self.opened_at_ns = 0
        self.updated_at_ns = 0
        self.in_sum = ZERO  # this position's unrealized P&L as counted in Portfolio's running sum

    def avg_price(self) -> Decimal:
        return self.cost / self.qty if self.qty else ZERO

    def price(self) -> Decimal:
        return self.avg_price() if self.last_price is None else self.last_price

    def value(self) -> Decimal:
        """Signed market value at the last mark; at cost (exactly) before the first mark."""
        return self.cost if self.last_price is None else self.qty * self.last_price

    def unrealized(self) -> Decimal:
        return self.value() - self.cost if self.qty else ZERO


class Portfolio:
    """Books of one account. No I/O, no clock: every call carries its own timestamp."""

    def __init__(self, initial_cash: Decimal, trading_date: str = "") -> None:
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.trading_date = trading_date
        self._positions: dict[str, _Position] = {}  # symbols with a fill or a fee: what is booked
        self._marks: dict[str, Decimal] = {}  # last price of every symbol marked, booked or not
        self._unrealized = ZERO  # sum of the positions' unrealized P&L, kept exact as they change
        self._realized_total = ZERO
        self._day_realized = ZERO
        self._day_start_unrealized = ZERO
        self._day_start_equity = initial_cash
        self._day_trades = 0
        self._day_wins = 0
        self._day_losses = 0

    # ---- fills and marks -------------------------------------------------------------------

    def apply_fill(
        self, symbol: str, side: Literal["buy", "sell"], qty: Decimal, price: Decimal, commission: Decimal, ts_ns: int
    ) -> Decimal:
        """Book one fill and return its realized P&L (closing part minus the commission)."""
        if qty <= 0 or price <= 0 or commission < 0:
            raise AccountingError(f"{symbol}: fill needs qty > 0, price > 0, commission >= 0; got {qty} @ {price} fee {commission}")
        if side not in ("buy", "sell"):
            raise AccountingError(f"{symbol}: fill side must be 'buy' or 'sell', got {side!r}")
        pos = self._positions.get(symbol) or self._open_entry(symbol)
        signed = qty if side == "buy" else -qty
        old = pos.qty
        realized = -commission
        new = old + signed
        closing = old != 0 and (old > 0) != (signed > 0)
        if closing:
            # The cost taken out is rounded to COST_QUANTUM; realized uses the same number, so cash + cost
            # stays exact, and every amount keeps few enough digits for sums to stay exact too.
            closed = min(abs(old), qty)
            removed = pos.cost if closed == abs(old) else (pos.cost * closed / abs(old)).quantize(COST_QUANTUM)
            direction = 1 if old > 0 else -1
            realized += closed * price * direction - removed
            pos.cost -= removed
            if new != 0 and (new > 0) != (old > 0):  # flipped through zero: the rest opens at this price
                pos.cost = new * price
                pos.opened_at_ns = ts_ns
        else:
            if old == 0:
                pos.opened_at_ns = ts_ns
            pos.cost += signed * price
        pos.qty = new
        pos.fills_qty += signed
        if pos.last_price is None:  # a fill price marks only a symbol never marked: a later mark may be in
            pos.last_price = price
        pos.updated_at_ns = ts_ns
        pos.realized += realized
        self._count_unrealized(pos)
        self.cash -= signed * price + commission
        self._realized_total += realized
        self._day_realized += realized
        self._day_trades += 1
        if closing:
            if realized > 0:
                self._day_wins += 1
            elif realized < 0:
                self._day_losses += 1
        return realized

    def apply_fee(self, symbol: str, fee: Decimal, ts_ns: int) -> None:
        """A commission that arrives without shares (its fill's shares were booked before, from the cumulative)."""
        if fee < 0:
            raise AccountingError(f"{symbol}: fee must be >= 0, got {fee}")
        pos = self._positions.get(symbol) or self._open_entry(symbol)
        pos.realized -= fee
        pos.updated_at_ns = max(pos.updated_at_ns, ts_ns)
        self.cash -= fee
        self._realized_total -= fee
        self._day_realized -= fee

    def mark(self, symbol: str, price: Decimal, ts_ns: int) -> None:
        """Record the last price of a symbol (held or not); positions are valued at it, fills never move it."""
        self._marks[symbol] = price
        pos = self._positions.get(symbol)
        if pos is not None:
            pos.last_price = price
            if pos.qty:
                pos.updated_at_ns = ts_ns
                self._count_unrealized(pos)

    def _count_unrealized(self, pos: _Position) -> None:
        """Bring the running unrealized sum up to date with `pos` (after its quantity, cost or price moved).
        Decimal sums of these amounts are exact, so the sum equals a fresh one (check_invariants)."""
        now = pos.unrealized()
        self._unrealized += now - pos.in_sum
        pos.in_sum = now

    def _open_entry(self, symbol: str) -> _Position:
        """The books' entry of a symbol at its first fill or fee, valued at its last mark if it had one."""
        pos = self._positions[symbol] = _Position()
        pos.last_price = self._marks.get(symbol)
        return pos

    # ---- queries -----------------------------------------------------------------------------

    def is_booked(self, symbol: str) -> bool:
        """True once a fill or a fee of `symbol` is in the books (or a restored row)."""
        return symbol in self._positions

    def booked_symbols(self) -> set[str]:
        return set(self._positions)

    def position(self, symbol: str) -> Decimal:
        pos = self._positions.get(symbol)
        return pos.qty if pos is not None else ZERO

    def last_price(self, symbol: str) -> Decimal | None:
        pos = self._positions.get(symbol)
        return pos.last_price if pos is not None else self._marks.get(symbol)

    def open_symbols(self) -> list[str]:
        return [s for s, p in self._positions.items() if p.qty]

    def positions(self) -> list[PositionRow]:
        """Open positions, and flat symbols that carry realized P&L (a restore needs it to rebuild cash)."""
        rows = []
        for symbol, pos in self._positions.items():
            if pos.qty == 0 and pos.realized == 0:
                continue
            rows.append(
                PositionRow(
                    symbol=symbol,
                    quantity=pos.qty,
                    entry_price=pos.avg_price(),
                    current_price=pos.price(),
                    unrealized_pnl=pos.unrealized(),
                    realized_pnl=pos.realized,
                    opened_at_ns=pos.opened_at_ns,
                    updated_at_ns=pos.updated_at_ns,
                )
            )
        return rows

    def exposure(self) -> Decimal:
        """Sum of |qty| x last price over open positions."""
        return sum((abs(p.value()) for p in self._positions.values() if p.qty), ZERO)

    def market_value(self) -> Decimal:
        return sum((p.value() for p in self._positions.values() if p.qty), ZERO)

    def equity(self) -> Decimal:
        return self.cash + self.market_value()

    def unrealized_pnl(self) -> Decimal:
        """Unrealized P&L of the open positions against their average cost (kept as they change: a
        daily-loss check on every mark of a held symbol would otherwise walk every position)."""
        return self._unrealized

    def realized_pnl(self) -> Decimal:
        """Every realized P&L since the books began (commissions included)."""
        return self._realized_total

    def day_realized_pnl(self) -> Decimal:
        return self._day_realized

    def day_unrealized_pnl(self) -> Decimal:
        """Change of unrealized P&L since the trading day began."""
        return self.unrealized_pnl() - self._day_start_unrealized

    def day_total_pnl(self) -> Decimal:
        return self._day_realized + self.day_unrealized_pnl()

    def day_trade_counts(self) -> tuple[int, int, int]:
        """(fills, winning closing fills, losing closing fills) of the trading day."""
        return self._day_trades, self._day_wins, self._day_losses

    def daily_pnl_row(self) -> DailyPnlRow:
        unrealized = self.day_unrealized_pnl()
        return DailyPnlRow(
            trading_date=self.trading_date,
            realized_pnl=self._day_realized,
            unrealized_pnl=unrealized,
            total_pnl=self._day_realized + unrealized,
            trade_count=self._day_trades,
            winning_trades=self._day_wins,
            losing_trades=self._day_losses,
        )

    # ---- day boundary and restarts -----------------------------------------------------------

    def roll_day(self, trading_date: str) -> None:
        """Start a new trading day: the day's P&L and counts start from the current equity."""
        self.trading_date = trading_date
        self._day_realized = ZERO
        self._day_start_unrealized = self.unrealized_pnl()
        self._day_start_equity = self.equity()
        self._day_trades = self._day_wins = self._day_losses = 0

    @classmethod
    def restore(cls, initial_cash: Decimal, rows: list[PositionRow], daily: DailyPnlRow | None) -> Portfolio:
        """Rebuild the books from saved rows; rows and the daily row must be saved at the same time."""
        book = cls(initial_cash, daily.trading_date if daily is not None else "")
        for row in rows:
            pos = _Position()
            pos.qty = row.quantity
            pos.fills_qty = row.quantity
            # qty x current - unrealized gives back the exact cost basis (entry_price may be rounded)
            pos.cost = row.quantity * row.current_price - row.unrealized_pnl if row.quantity else ZERO
            pos.last_price = row.current_price
            pos.realized = row.realized_pnl
            pos.opened_at_ns = row.opened_at_ns
            pos.updated_at_ns = row.updated_at_ns
            book._positions[row.symbol] = pos
            book._count_unrealized(pos)
            book._realized_total += row.realized_pnl
            book.cash -= pos.cost
        book.cash += book._realized_total
        if daily is None:
            book.roll_day("")
            return book
        book._day_realized = daily.realized_pnl
        book._day_start_unrealized = book.unrealized_pnl() - daily.unrealized_pnl
        book._day_start_equity = book.equity() - daily.total_pnl
        book._day_trades = daily.trade_count
        book._day_wins = daily.winning_trades
        book._day_losses = daily.losing_trades
        return book

    def check_invariants(self) -> None:
        """Raise AccountingError naming the first invariant that does not hold exactly."""
        for symbol, pos in self._positions.items():
            if pos.qty != pos.fills_qty:
                raise AccountingError(f"{symbol}: position {pos.qty} != sum of its fills {pos.fills_qty}")
            if pos.qty == 0 and pos.cost != 0:
                raise AccountingError(f"{symbol}: flat position keeps a cost basis {pos.cost}")
        fresh = sum((p.unrealized() for p in self._positions.values() if p.qty), ZERO)
        if fresh != self._unrealized:
            raise AccountingError(f"running unrealized P&L {self._unrealized} != the positions' sum {fresh}")
        realized_by_symbol = sum((p.realized for p in self._positions.values()), ZERO)
        if realized_by_symbol != self._realized_total:
            raise AccountingError(f"realized P&L by symbol {realized_by_symbol} != account realized {self._realized_total}")
        equity = self.cash + self.market_value()
        identity = self.initial_cash + self._realized_total + self.unrealized_pnl()
        if equity != identity:
            raise AccountingError(
                f"cash {self.cash} + market value {self.market_value()} = {equity} != "
                f"initial cash + realized + unrealized = {identity}"
            )
        day_total = equity - self._day_start_equity
        if self._day_realized + self.day_unrealized_pnl() != day_total:
            raise AccountingError(
                f"day realized {self._day_realized} + unrealized {self.day_unrealized_pnl()} != "
                f"day total P&L {day_total} (equity change since the day began)"
            )
