"""The risk core's state as plain values for status views (account totals in cents, rows exact)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from actors.risk.core import RiskCore


def status_of(core: RiskCore) -> dict[str, Any]:
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
