"""The risk core's state as plain values for status views (account totals in cents, rows exact)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

import msgspec

from actors.risk.accounting import Portfolio
from actors.risk.breaker import CircuitBreaker


class RiskState(Protocol):
    """What a status view reads of the risk core (RiskCore satisfies it)."""

    portfolio: Portfolio
    breaker: CircuitBreaker
    approved_count: int
    rejected_count: int
    fill_count: int
    consecutive_order_failures: int

    def worst_case_exposure(self) -> Decimal: ...

    def pending_orders(self) -> int: ...

    def targets(self) -> dict[str, int]: ...


def status_of(core: RiskState) -> dict[str, Any]:
    book = core.portfolio
    return {
        "trading_date": book.trading_date,
        "breaker": msgspec.to_builtins(core.breaker.to_record()),
        "positions": msgspec.to_builtins(book.positions()),
        "cash": f"{book.cash:.2f}",
        "equity": f"{book.equity():.2f}",
        "exposure": f"{book.exposure():.2f}",
        "worst_case_exposure": f"{core.worst_case_exposure():.2f}",
        "pnl": msgspec.to_builtins(book.daily_pnl_row()),
        "open_positions": len(book.open_symbols()),
        "pending_orders": core.pending_orders(),
        "targets": core.targets(),
        "approved": core.approved_count,
        "rejected": core.rejected_count,
        "fills": core.fill_count,
        "consecutive_order_failures": core.consecutive_order_failures,
    }
