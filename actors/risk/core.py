"""The pure risk core: turns signals into sized, approved orders or named rejections.

No Ray, no I/O, an injected clock (int UTC ns). Approved orders stay *pending* until their final
OrderUpdate, and pending quantity counts toward the limits in the unfavourable direction (every
pending buy fills, no pending sell does, and the other way round), so no two quick signals can
jointly pass a limit. Rejections and breaker changes queue up as RiskEvents for the actor to store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from actors.risk import rules
from actors.risk.accounting import ZERO, Portfolio
from actors.risk.breaker import BreakerTransition, CircuitBreaker
from cluster.errors import BadInput
from cluster.ids import client_order_id
from cluster.records import BreakerRecord, DailyPnlRow, PositionRow, RiskEvent, Severity
from cluster.settings import RiskSettings
from cluster.wire import OrderIntent, OrderUpdate, Signal

TERMINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
_MINUTE_NS = 60_000_000_000
_BREAKER_EVENTS: dict[str, tuple[str, Severity]] = {
    "trip": ("breaker_tripped", "critical"),
    "cooldown_elapsed": ("breaker_reducing", "warning"),
    "reset": ("breaker_reset", "warning"),
    "day_rollover": ("breaker_day_rollover", "info"),
}


class Approved(msgspec.Struct, frozen=True):
    intent: OrderIntent


class Rejected(msgspec.Struct, frozen=True):
    rule: str
    reason: str
    signal: Signal


RiskDecision = Approved | Rejected


class _Limits(msgspec.Struct, frozen=True):
    """Dollar limits in force: the configured ones, or scaled by reduced_size_factor after a reset."""

    order_notional: Decimal
    max_order_notional: Decimal
    max_position: Decimal
    max_total_exposure: Decimal


class _Pending:
    __slots__ = ("symbol", "is_buy", "remaining")

    def __init__(self, symbol: str, is_buy: bool, remaining: Decimal) -> None:
        self.symbol = symbol
        self.is_buy = is_buy
        self.remaining = remaining


class RiskCore:
    def __init__(self, limits: RiskSettings, clock: Callable[[], int], client_order_prefix: str = "tc") -> None:
        self.limits = limits
        self._clock = clock
        self._prefix = client_order_prefix
        self._tz = ZoneInfo(limits.trading_day_tz)
        factor = limits.reduced_size_factor
        self._full = _Limits(
            limits.order_notional_usd, limits.max_order_notional_usd, limits.max_position_usd,
            limits.max_total_exposure_usd,
        )
        self._reduced = _Limits(*(v * factor for v in msgspec.structs.astuple(self._full)))
        self._stale_ns = int(limits.stale_data_seconds * 1e9)
        self._loss_floor = -limits.max_daily_loss_usd
        today = self.trading_date_of(clock())
        self.portfolio = Portfolio(limits.initial_cash, today)
        self.breaker = CircuitBreaker(int(limits.breaker_cooldown_minutes * _MINUTE_NS), today)
        self._prices: dict[str, Decimal] = {}
        self._price_ns: dict[str, int] = {}
        self._pending: dict[str, _Pending] = {}
        self._pending_buy: dict[str, Decimal] = {}
        self._pending_sell: dict[str, Decimal] = {}
        self._order_times: deque[int] = deque()
        self._seen_fills: set[str] = set()
        self._consecutive_failures = 0
        self._events: list[RiskEvent | tuple[rules.Rejection, Signal, int]] = []  # rejections built on drain
        self._price_floats: dict[str, float] = {}
        # symbols with a position or a pending order -> max(|held + pending buys|, |held - pending sells|)
        self._worst_qty: dict[str, Decimal] = {}
        self.approved_count = 0
        self.rejected_count = 0
        self.fill_count = 0

    # ---- market data -------------------------------------------------------------------------

    def on_price(self, symbol: str, price: float, ts_ns: int) -> None:
        """Mark a symbol; a held symbol's new price may trip the daily-loss breaker."""
        value = Decimal(repr(price))
        self._prices[symbol] = value
        self._price_floats[symbol] = price
        self._price_ns[symbol] = ts_ns
        self.portfolio.mark(symbol, value, ts_ns)
        if self.portfolio.position(symbol):
            self._check_daily_loss()

    # ---- the hot path ------------------------------------------------------------------------

    def check(self, signal: Signal) -> RiskDecision:
        """Approve a sized market order for the signal, or reject it naming the rule."""
        now = self._clock()
        state = self.breaker.state
        if state == "open":
            return self._reject(signal, rules.breaker_gate(state, False), now)  # type: ignore[arg-type]
        symbol = signal.symbol
        rejection = rules.stale_data(symbol, self._price_ns.get(symbol), now, self._stale_ns)
        if rejection is not None:
            return self._reject(signal, rejection, now)
        last = self._prices[symbol]
        order_price = last if signal.price == self._price_floats.get(symbol) else Decimal(repr(signal.price))
        rejection = rules.price_band(symbol, order_price, last, self.limits.price_band_pct)
        if rejection is None:
            rejection = rules.order_rate(self._orders_last_minute(now), self.limits.max_orders_per_minute)
        if rejection is not None:
            return self._reject(signal, rejection, now)
        target = signal.target
        if target not in (1, 0, -1):
            return self._reject(signal, rules.Rejection("bad_target", f"{symbol}: target {target} not in -1, 0, 1"), now)
        held = self.portfolio.position(symbol)
        pending_buy = self._pending_buy.get(symbol, ZERO)
        pending_sell = self._pending_sell.get(symbol, ZERO)
        if held > 0 and target <= 0:
            return self._close(signal, False, held - pending_sell, last, now)
        if held < 0 and target >= 0:
            return self._close(signal, True, -held - pending_buy, last, now)
        if target == 0 or held != 0:
            return self._reject(signal, rules.Rejection("at_target", f"{symbol}: already at target {target}"), now)
        is_buy = target > 0
        if (pending_sell if is_buy else pending_buy) > 0:
            reason = f"{symbol}: an opposite order is still pending"
            return self._reject(signal, rules.Rejection("order_pending", reason), now)
        if (pending_buy if is_buy else pending_sell) > 0:
            return self._reject(signal, rules.Rejection("at_target", f"{symbol}: entry already pending"), now)
        return self._enter(signal, is_buy, last, state, now)

    def _close(self, signal: Signal, is_buy: bool, qty: Decimal, last: Decimal, now: int) -> RiskDecision:
        """One order that takes the filled position to flat (net of closes already pending)."""
        if qty <= 0:
            reason = f"{signal.symbol}: a closing order is already pending"
            return self._reject(signal, rules.Rejection("at_target", reason), now)
        cap = self._reduced.max_order_notional if self.breaker.reduced_size else self._full.max_order_notional
        if qty * last > cap:  # the fat-finger cap also bounds a close: close in slices
            qty = rules.whole_shares_within(cap, last)
            if qty < 1:
                return self._reject(signal, rules.order_notional_cap(signal.symbol, last, cap), now)  # type: ignore[arg-type]
        return self._approve(signal, is_buy, qty, True, now)

    def _enter(self, signal: Signal, is_buy: bool, last: Decimal, state: str, now: int) -> RiskDecision:
        """Open from flat: aim at order_notional_usd, cut down to fit every limit."""
        symbol = signal.symbol
        rejection = rules.breaker_gate(state, False)
        if rejection is None:
            rejection = rules.max_open_positions(symbol, len(self._worst_qty), True, self.limits.max_open_positions)
        if rejection is not None:
            return self._reject(signal, rejection, now)
        lim = self._reduced if self.breaker.reduced_size else self._full
        total = self.worst_case_exposure()
        budget, bound = lim.order_notional, "order_size"
        if lim.max_order_notional < budget:
            budget, bound = lim.max_order_notional, "order_notional_cap"
        if lim.max_position < budget:
            budget, bound = lim.max_position, "max_position"
        if lim.max_total_exposure - total < budget:
            budget, bound = lim.max_total_exposure - total, "max_total_exposure"
        qty = rules.whole_shares_within(budget, last)
        probe = qty if qty >= 1 else Decimal(1)
        notional = probe * last
        rejection = (
            rules.order_notional_cap(symbol, notional, lim.max_order_notional)
            or rules.max_position(symbol, notional, lim.max_position)
            or rules.max_total_exposure(total + notional, lim.max_total_exposure)
        )
        if rejection is None and qty < 1:
            rejection = rules.Rejection(bound, f"{symbol}: {budget:.2f} USD buys less than one share at {last}")
        if rejection is not None:
            return self._reject(signal, rejection, now)
        return self._approve(signal, is_buy, qty, False, now)

    def _approve(self, signal: Signal, is_buy: bool, qty: Decimal, reduce_only: bool, now: int) -> Approved:
        symbol = signal.symbol
        intent = OrderIntent(
            client_order_id=client_order_id(self._prefix, symbol, signal.ts_ns, signal.target),
            symbol=symbol, side="buy" if is_buy else "sell", qty=qty, order_type="market", time_in_force="day",
            ts_ns=now, batch=signal.batch, correlation_id=signal.correlation_id, reduce_only=reduce_only,
        )
        self._add_pending(intent)
        self._order_times.append(now)
        self.approved_count += 1
        return Approved(intent)

    def _reject(self, signal: Signal, rejection: rules.Rejection, now: int) -> Rejected:
        self.rejected_count += 1
        self._events.append((rejection, signal, now))  # the event is built off the hot path, in drain_events
        return Rejected(rejection.rule, rejection.reason, signal)

    def _rejection_event(self, rejection: rules.Rejection, signal: Signal, now: int) -> RiskEvent:
        severity: Severity = "info" if rejection.rule in ("at_target", "order_pending") else "warning"
        coid = client_order_id(self._prefix, signal.symbol, signal.ts_ns, signal.target)
        return RiskEvent(
            event_type="order_rejected", severity=severity, message=rejection.reason, occurred_at_ns=now,
            metadata={
                "rule": rejection.rule, "symbol": signal.symbol, "client_order_id": coid,
                "correlation_id": signal.correlation_id, "target": signal.target,
            },
        )

    # ---- exposure incl. pending --------------------------------------------------------------

    def worst_case_exposure(self) -> Decimal:
        """Sum of |position| in USD if every pending order in one direction fills and none in the other."""
        total, prices, last_price = ZERO, self._prices, self.portfolio.last_price
        for symbol, qty in self._worst_qty.items():
            total += qty * (prices.get(symbol) or last_price(symbol) or ZERO)
        return total

    def _orders_last_minute(self, now: int) -> int:
        times = self._order_times
        while times and times[0] <= now - _MINUTE_NS:
            times.popleft()
        return len(times)

    def _add_pending(self, intent: OrderIntent) -> None:
        symbol, qty = intent.symbol, intent.qty
        is_buy = intent.side == "buy"
        self._pending[intent.client_order_id] = _Pending(symbol, is_buy, qty)
        book = self._pending_buy if is_buy else self._pending_sell
        book[symbol] = book.get(symbol, ZERO) + qty
        self._refresh_active(symbol)

    def _shrink_pending(self, pending: _Pending, qty: Decimal) -> None:
        qty = min(qty, pending.remaining)
        pending.remaining -= qty
        book = self._pending_buy if pending.is_buy else self._pending_sell
        left = book.get(pending.symbol, ZERO) - qty
        if left > 0:
            book[pending.symbol] = left
        else:
            book.pop(pending.symbol, None)

    def _refresh_active(self, symbol: str) -> None:
        held = self.portfolio.position(symbol)
        if held or symbol in self._pending_buy or symbol in self._pending_sell:
            long_side = abs(held + self._pending_buy.get(symbol, ZERO))
            short_side = abs(held - self._pending_sell.get(symbol, ZERO))
            self._worst_qty[symbol] = long_side if long_side > short_side else short_side
        else:
            self._worst_qty.pop(symbol, None)

    # ---- order updates -----------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> None:
        """Book fills, release pending quantity, count failures; may trip the breaker."""
        pending = self._pending.get(update.client_order_id)
        if update.last_fill_qty > 0:
            fill_key = update.fill_id or f"{update.client_order_id}:{update.filled_qty}"
            if fill_key not in self._seen_fills:
                self._seen_fills.add(fill_key)
                price = update.last_fill_price if update.last_fill_price is not None else update.filled_avg_price
                if price is None:
                    raise BadInput(f"fill of {update.client_order_id} carries no price")
                self.portfolio.apply_fill(
                    update.symbol, update.side, update.last_fill_qty, price, update.commission, update.ts_ns
                )
                self.fill_count += 1
                if pending is not None:
                    self._shrink_pending(pending, update.last_fill_qty)
        if update.status in TERMINAL_STATUSES and pending is not None:
            self._shrink_pending(pending, pending.remaining)
            del self._pending[update.client_order_id]
        self._refresh_active(update.symbol)
        if update.status == "rejected":
            self._consecutive_failures += 1
            limit = self.limits.max_consecutive_order_failures
            if self._consecutive_failures >= limit and self.breaker.state != "open":
                self._breaker_event(self.breaker.trip("risk", f"{self._consecutive_failures} consecutive order failures", self._clock()))
        else:
            self._consecutive_failures = 0
        if update.last_fill_qty > 0:
            self._check_daily_loss()

    def _check_daily_loss(self) -> None:
        """Trip a closed breaker at the daily-loss limit (a reducing breaker already only lets closes through)."""
        if self.breaker.state == "closed":
            total = self.portfolio.day_total_pnl()
            if total <= self._loss_floor:
                reason = f"daily loss {total:.2f} USD reached the limit {self.limits.max_daily_loss_usd}"
                self._breaker_event(self.breaker.trip("risk", reason, self._clock()))

    # ---- breaker and day ---------------------------------------------------------------------

    def trip(self, by: str, reason: str) -> BreakerTransition:
        return self._breaker_event(self.breaker.trip(by, reason, self._clock()))

    def reset(self, by: str, reason: str) -> BreakerTransition:
        """Operator reset: closed again, at reduced size for the rest of the trading day."""
        return self._breaker_event(self.breaker.reset(by, reason, self._clock()))

    def tick(self, now_ns: int) -> None:
        """Drive the breaker cooldown and the trading-day rollover from the owner's clock."""
        moved = self.breaker.tick(now_ns)
        if moved is not None:
            self._breaker_event(moved)
        today = self.trading_date_of(now_ns)
        if today != self.portfolio.trading_date:
            self.portfolio.roll_day(today)
            self._breaker_event(self.breaker.roll_day(today, now_ns))
        self._orders_last_minute(now_ns)

    def trading_date_of(self, ts_ns: int) -> str:
        return datetime.fromtimestamp(ts_ns // 1_000_000_000, self._tz).date().isoformat()

    def _breaker_event(self, moved: BreakerTransition) -> BreakerTransition:
        if moved.trigger == "trip" and moved.from_state == "open":
            return moved  # an idempotent trip changes nothing
        event_type, severity = _BREAKER_EVENTS[moved.trigger]
        self._events.append(
            RiskEvent(
                event_type=event_type, severity=severity, message=moved.reason, occurred_at_ns=moved.at_ns,
                metadata={
                    "rule": "circuit_breaker", "from_state": moved.from_state, "to_state": moved.to_state,
                    "changed_by": moved.changed_by, "reduced_size": moved.reduced_size,
                },
            )
        )
        return moved

    # ---- events, status, restarts ------------------------------------------------------------

    def drain_events(self) -> list[RiskEvent]:
        queued, self._events = self._events, []
        return [e if isinstance(e, RiskEvent) else self._rejection_event(*e) for e in queued]

    def snapshot(self) -> dict[str, Any]:
        """Plain values for status views: account totals in cents, rows exact (Decimals as strings)."""
        book = self.portfolio
        return {
            "trading_date": book.trading_date,
            "breaker": msgspec.to_builtins(self.breaker.to_record()),
            "positions": msgspec.to_builtins(book.positions()),
            "cash": f"{book.cash:.2f}",
            "equity": f"{book.equity():.2f}",
            "exposure": f"{book.exposure():.2f}",
            "worst_case_exposure": f"{self.worst_case_exposure():.2f}",
            "pnl": msgspec.to_builtins(book.daily_pnl_row()),
            "open_positions": len(book.open_symbols()),
            "pending_orders": len(self._pending),
            "approved": self.approved_count,
            "rejected": self.rejected_count,
            "fills": self.fill_count,
            "consecutive_order_failures": self._consecutive_failures,
        }

    def restore(
        self,
        positions: list[PositionRow],
        daily_pnl: DailyPnlRow | None,
        breaker_record: BreakerRecord | None,
        open_intents: Iterable[OrderIntent] = (),
    ) -> None:
        """Rebuild after a restart from stored rows; orders still open at the broker count as pending."""
        now = self._clock()
        self.portfolio = Portfolio.restore(self.limits.initial_cash, positions, daily_pnl)
        cooldown = self.breaker.cooldown_ns
        self.breaker = CircuitBreaker.from_record(breaker_record, cooldown) if breaker_record else CircuitBreaker(cooldown)
        self._pending.clear()
        self._pending_buy.clear()
        self._pending_sell.clear()
        self._worst_qty.clear()
        for symbol in self.portfolio.open_symbols():
            self._refresh_active(symbol)
        for row in positions:
            self._prices[row.symbol] = row.current_price
            self._price_ns[row.symbol] = row.updated_at_ns
            self._price_floats.pop(row.symbol, None)
        for intent in open_intents:
            self._add_pending(intent)
        today = self.trading_date_of(now)
        if self.portfolio.trading_date != today:
            self.portfolio.roll_day(today)
        if self.breaker.trading_date != today:
            self._breaker_event(self.breaker.roll_day(today, now))
