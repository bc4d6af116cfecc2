"""The pure risk core: turns signals into sized, approved orders or named rejections.

No Ray, no I/O, an injected clock (int UTC ns). A signal sets the symbol's target; risk sends one order at a
time toward it and keeps working toward it (`follow_up`, once per batch) across pending fills, the fat-finger
cap and breaker modes, until it is reached or a new signal changes it. Approved orders stay *pending* until their
final OrderUpdate, and pending quantity counts toward the limits in the unfavourable direction (every pending buy
fills, no pending sell does, and the other way round), so no two quick orders can jointly pass a limit. The trading
day follows the time of every event. Rejections and breaker changes queue up as RiskEvents for the actor to store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import msgspec

from actors.risk import rules
from actors.risk.accounting import ZERO, Portfolio
from actors.risk.book import PendingOrders
from actors.risk.breaker import DAILY_LOSS, BreakerTransition, CircuitBreaker
from actors.risk.calendar import TradingDay
from actors.risk.events import BREAKER_EVENTS, book_report, rejection_event
from actors.risk.events import Approved as Approved
from actors.risk.events import Rejected as Rejected
from actors.risk.events import RiskDecision as RiskDecision
from actors.risk.marks import Marks
from actors.risk.sizing import Limits, Target, close_slice, entry_size, targets_from_orders
from actors.risk.staleness import book_is_stale
from actors.risk.status import status_of
from cluster.foundation.domain.ids import parse_client_order_id
from cluster.foundation.domain.orders import FillLedger, plain_qty, price_decimal
from cluster.foundation.domain.records import BreakerRecord, DailyPnlRow, PositionRow, RiskEvent, Severity
from cluster.foundation.domain.settings import RiskSettings
from cluster.foundation.domain.wire import OrderIntent, OrderUpdate, Signal

_QUIET = ("at_target", "order_pending")  # a follow-up held back by these records no event


class RiskCore:
    def __init__(self, limits: RiskSettings, clock: Callable[[], int], client_order_prefix: str = "tc") -> None:
        self.limits = limits
        self._clock = clock
        self._prefix = client_order_prefix
        self._day = TradingDay(limits.trading_day_tz)
        self._full = Limits(limits.order_notional_usd, limits.max_order_notional_usd, limits.max_position_usd,
                            limits.max_total_exposure_usd)
        self._reduced = Limits(*(v * limits.reduced_size_factor for v in msgspec.structs.astuple(self._full)))
        self._stale_ns = int(limits.stale_data_seconds * 1e9)
        self._loss_floor = -limits.max_daily_loss_usd
        now = clock()
        today = self.trading_date_of(now)
        self.portfolio = Portfolio(limits.initial_cash, today)
        self.breaker = CircuitBreaker(int(limits.breaker_cooldown_minutes * rules.MINUTE_NS), today)
        self._day.crossed(now)
        self._marks = Marks()
        self._book = PendingOrders(lambda coid: coid.startswith(f"{client_order_prefix}-") and bool(parse_client_order_id(coid)))
        self._fills = FillLedger()
        self._targets: dict[str, Target] = {}
        self._order_times = rules.OrderTimes()
        self.consecutive_order_failures = 0
        self._events: list[RiskEvent | tuple[rules.Rejection, Signal, int]] = []  # rejections built on drain
        self.approved_count = 0
        self.rejected_count = 0
        self.fill_count = 0

    # ---- market data -------------------------------------------------------------------------

    def on_price(self, symbol: str, price: float, ts_ns: int) -> bool:
        """Mark a symbol; a held symbol's new price may trip the daily-loss breaker. False: price refused."""
        self._follow_day(ts_ns)
        if not (math.isfinite(price) and price > 0):
            self._event("bad_price", "warning", f"{symbol}: mark {price!r} at {ts_ns} is not a positive finite price",
                        ts_ns, symbol=symbol)
            return False
        self._marks.mark(symbol, price, ts_ns)
        if self.portfolio.is_booked(symbol):  # the books value it at this mark; others get it at their first fill
            value = self._marks.decimal(symbol)
            assert value is not None  # marked just above
            self.portfolio.mark(symbol, value, ts_ns)
            if self.portfolio.position(symbol):
                self._check_daily_loss()
        return True

    def symbols_in_play(self) -> set[str]:
        """Booked, or with an order pending: what on_price must mark one by one, what a broker may still fill."""
        return self.portfolio.booked_symbols() | self._book.symbols()

    def mark_quietly(self, prices: dict[str, float], stamps: dict[str, int]) -> None:
        self._marks.mark_many(prices, stamps)

    def last_mark(self, symbol: str) -> Decimal | None:
        """The last price `symbol` was marked at (held or not), None before its first mark."""
        return self._marks.decimal(symbol)

    # ---- the hot path ------------------------------------------------------------------------

    def check(self, signal: Signal) -> RiskDecision:
        """Take the signal's target and approve the next order toward it, or reject naming the rule."""
        now = self._clock()
        self._follow_day(now)
        symbol, want = signal.symbol, signal.target
        if want not in (1, 0, -1):
            return self._reject(signal, rules.Rejection("bad_target", f"{symbol}: target {want} not in -1, 0, 1"), now)
        if not (math.isfinite(signal.price) and signal.price > 0):
            reason = f"{symbol}: signal price {signal.price!r} is not a positive finite price"
            return self._reject(signal, rules.Rejection("bad_price", reason), now)
        last = self.last_mark(symbol)
        if last is not None:
            order_price = last if signal.price == self._marks.as_float(symbol) else price_decimal(signal.price)
            rejection = rules.price_band(symbol, order_price, last, self.limits.price_band_pct)
            if rejection is not None:
                return self._reject(signal, rejection, now)
        target = self._targets.get(symbol)
        state = self.breaker.state
        kill_stands = target is not None and target.is_kill and state != "closed"  # until an operator resets
        if not kill_stands and (
            target is None or target.direction != want or (target.stopped and target.ts_ns != signal.ts_ns)
        ):
            target = self._targets[symbol] = Target(want, "s", signal.ts_ns, signal.correlation_id)
        if state == "open":
            return self._reject(signal, rules.Rejection("breaker_open", "circuit breaker is open: no new orders"), now)
        if kill_stands:
            reason = f"{symbol}: the kill switch's flatten stands until an operator resets the breaker"
            return self._reject(signal, rules.Rejection("kill_in_force", reason), now)
        assert target is not None
        step = self._step(symbol, target, now, signal.batch)
        if isinstance(step, OrderIntent):
            return Approved(step)
        target.blocked = step.rule
        return self._reject(signal, step, now)

    def follow_up(self, batch: int) -> list[OrderIntent]:
        """The next order toward every target not reached yet (a slice, an exit after its entry filled...)."""
        now = self._clock()
        self._follow_day(now)
        intents: list[OrderIntent] = []
        for symbol in sorted(self._targets):
            target = self._targets[symbol]
            if target.reached(self.portfolio.position(symbol)) and not self._book.has_pending(symbol):
                continue
            step = self._step(symbol, target, now, batch)
            if isinstance(step, OrderIntent):
                intents.append(step)
            elif step.rule != target.blocked:
                target.blocked = step.rule
                if step.rule not in _QUIET:
                    self._event("target_blocked", "info", step.reason, now, rule=step.rule, symbol=symbol,
                                target=target.direction, correlation_id=target.correlation_id)
        return intents

    def liquidate(self, by: str, request_ns: int | None = None) -> list[OrderIntent]:
        """Kill switch: target flat everywhere; reduce-only orders for the filled positions, outside the gate,
        sized net of closes pending (a second kill sends nothing new; after a refused flatten, a new id)."""
        now = self._clock()
        self._follow_day(now)
        request = now if request_ns is None else request_ns
        symbols = set(self.portfolio.open_symbols()) | self._book.symbols() | set(self._targets)
        intents: list[OrderIntent] = []
        for symbol in sorted(symbols):
            target = self._targets.get(symbol)
            if target is None or not target.same_as(0, "k", request):
                target = self._targets[symbol] = Target(0, "k", request, f"kill:{by}@{request}")
            target.stopped = False
            step = self._step(symbol, target, now, 0)
            if isinstance(step, OrderIntent):
                intents.append(step)
        return intents

    def _step(self, symbol: str, target: Target, now: int, batch: int) -> OrderIntent | rules.Rejection:
        """One order toward the target, or why not now. At most one order per symbol works at a time."""
        want = target.direction
        if target.stopped:
            return rules.Rejection("target_stopped", f"{symbol}: the broker refused the last order toward target "
                                                     f"{want}; waiting for a new signal")
        held = self.portfolio.position(symbol)
        closing = held != 0 and (want == 0 or (held > 0) != (want > 0))
        book = self._book
        if target.is_kill:
            is_buy = held < 0
            qty = abs(held) - (book.buy(symbol) if is_buy else book.sell(symbol))
            if not closing or qty <= 0:
                return rules.Rejection("order_pending" if closing else "at_target", f"{symbol}: flat or closing")
            return self._approve(symbol, target, is_buy, qty, True, now, batch)
        state = self.breaker.state
        rejection = (
            rules.breaker_gate(state, closing)
            or rules.stale_data(symbol, self._marks.ns.get(symbol), now, self._stale_ns)
        )
        if rejection is None and book.has_pending(symbol):
            rejection = rules.Rejection("order_pending", f"{symbol}: an order is still working; target {want} kept")
        if rejection is None and not closing and (held != 0 or want == 0):
            rejection = rules.Rejection("at_target", f"{symbol}: already at target {want}")
        if rejection is None:
            rejection = rules.order_rate(self._order_times.last_minute(now), self.limits.max_orders_per_minute)
        if rejection is not None:
            return rejection
        last = self.last_mark(symbol)
        if last is None:  # stale_data refused a symbol without a mark above
            raise KeyError(symbol)
        lim = self._reduced if self.breaker.reduced_size else self._full
        if closing:
            size = close_slice(symbol, abs(held), last, lim.max_order_notional)
        else:
            size = rules.max_open_positions(symbol, self._book.active_symbols(), True, self.limits.max_open_positions) \
                or entry_size(symbol, last, lim, self.worst_case_exposure())
        if isinstance(size, rules.Rejection):
            return size
        is_buy = held < 0 if closing else want > 0
        return self._approve(symbol, target, is_buy, size, closing, now, batch)

    def _approve(self, symbol: str, target: Target, is_buy: bool, qty: Decimal, reduce_only: bool, now: int,
                 batch: int) -> OrderIntent:
        intent = OrderIntent(
            client_order_id=target.next_order_id(self._prefix, symbol), symbol=symbol,
            side="buy" if is_buy else "sell", qty=plain_qty(qty), order_type="market", time_in_force="day",
            ts_ns=now, batch=batch, correlation_id=target.correlation_id, reduce_only=reduce_only,
        )
        target.step += 1
        target.blocked = ""
        self._book.add(intent.client_order_id, symbol, is_buy, intent.qty)
        self._refresh_active(symbol)
        self._order_times.add(now)
        self.approved_count += 1
        return intent

    def _reject(self, signal: Signal, rejection: rules.Rejection, now: int) -> Rejected:
        self.rejected_count += 1
        self._events.append((rejection, signal, now))  # the event is built off the hot path, in drain_events
        return Rejected(rejection.rule, rejection.reason, signal)

    # ---- exposure incl. pending, targets -----------------------------------------------------

    def worst_case_exposure(self) -> Decimal:
        """Sum of |position| in USD if every pending order in one direction fills and none in the other."""
        price, last_price = self.last_mark, self.portfolio.last_price
        return self._book.worst_case_exposure(lambda s: price(s) or last_price(s) or ZERO)

    def pending_buy(self, symbol: str) -> Decimal:
        return self._book.buy(symbol)

    def pending_sell(self, symbol: str) -> Decimal:
        return self._book.sell(symbol)

    def pending_orders(self) -> int:
        return len(self._book)

    def targets(self) -> dict[str, int]:
        return {symbol: target.direction for symbol, target in sorted(self._targets.items())}

    def _refresh_active(self, symbol: str) -> None:
        self._book.refresh(symbol, self.portfolio.position(symbol))

    # ---- order updates -----------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> None:
        """Book the shares not booked yet, release pending quantity, count failures; may trip the breaker."""
        self._follow_day(update.ts_ns)
        coid = update.client_order_id
        symbol = update.symbol
        if not self.portfolio.is_booked(symbol) and (last := self.last_mark(symbol)) is not None:
            self.portfolio.mark(symbol, last, self._marks.ns[symbol])  # its first entry is valued at the last mark
        newly = book_report(self.portfolio, self._fills, update, self._event)
        if newly > 0:
            self.fill_count += 1
        self._book.on_update(update, newly, self._fills.booked_qty(coid))
        self._refresh_active(update.symbol)
        if update.status == "rejected":
            target, sent = self._targets.get(update.symbol), parse_client_order_id(coid)
            if target is not None and sent is not None and sent[:3] == (target.origin, target.ts_ns, target.direction):
                target.stopped = True
                self._event("target_stopped", "warning", f"{update.symbol}: broker refused {coid} ({update.reason}); "
                            f"target {target.direction} waits for a new signal", update.ts_ns,
                            symbol=update.symbol, client_order_id=coid)
            self.consecutive_order_failures += 1
            limit = self.limits.max_consecutive_order_failures
            if self.consecutive_order_failures >= limit and self.breaker.state != "open":
                reason = f"{self.consecutive_order_failures} consecutive order failures"
                self._breaker_event(self.breaker.trip("risk", reason, self._clock(), "order_failures"))
        else:
            self.consecutive_order_failures = 0
        if newly > 0:
            self._check_daily_loss()

    def _check_daily_loss(self) -> None:
        """Trip a closed breaker at the daily-loss limit (a reducing breaker already only lets closes through)."""
        if self.breaker.state == "closed":
            total = self.portfolio.day_total_pnl()
            if total <= self._loss_floor:
                reason = f"daily loss {total:.2f} USD reached the limit {self.limits.max_daily_loss_usd}"
                if self._loss_floor != -self.limits.max_daily_loss_usd:
                    reason += f" (reduced after the reset: trips at {self._loss_floor:.2f})"
                self._breaker_event(self.breaker.trip("risk", reason, self._clock(), DAILY_LOSS))

    def check_stale_book(self, now_ns: int) -> None:
        """Trip a closed breaker when every held symbol has gone without a price for too long."""
        if self.breaker.state == "closed" and book_is_stale(
            self.portfolio.open_symbols(), self._marks.ns, now_ns, self._stale_ns
        ):
            seconds = self.limits.stale_data_seconds
            reason = f"stale data across the book: no price for any held symbol in {seconds:.0f}s"
            self._breaker_event(self.breaker.trip("risk", reason, now_ns, "stale_book"))

    # ---- breaker and day ---------------------------------------------------------------------

    def trip(self, by: str, reason: str) -> BreakerTransition:
        return self._breaker_event(self.breaker.trip(by, reason, self._clock()))

    def reset(self, by: str, reason: str) -> BreakerTransition:
        """Operator reset: closed again, at reduced size and with a reduced loss budget for the rest of the day."""
        moved = self._breaker_event(self.breaker.reset(by, reason, self._clock()))
        self._loss_floor = self.portfolio.day_total_pnl() - self.limits.max_daily_loss_usd * self.limits.reduced_size_factor
        return moved

    def restore_breaker(self, record: BreakerRecord) -> None:
        self.breaker = CircuitBreaker.from_record(record, self.breaker.cooldown_ns)
        if record.reduced_size:  # the P&L at the reset is not stored: the reduced budget counts from now
            self._loss_floor = min(-self.limits.max_daily_loss_usd, self.portfolio.day_total_pnl()) \
                - self.limits.max_daily_loss_usd * self.limits.reduced_size_factor

    def tick(self, now_ns: int) -> None:
        """Drive the breaker cooldown and the trading-day rollover from the owner's clock."""
        self._follow_day(now_ns)
        moved = self.breaker.tick(now_ns)
        if moved is not None:
            self._breaker_event(moved)
        self._order_times.last_minute(now_ns)

    def trading_date_of(self, ts_ns: int) -> str:
        return self._day.date_of(ts_ns)

    def _follow_day(self, ts_ns: int) -> None:
        """Roll the trading day when an event carries a later date (the day never goes back)."""
        today = self._day.crossed(ts_ns)
        if today is None:
            return
        if today > self.portfolio.trading_date:
            self.portfolio.roll_day(today)
            self._loss_floor = -self.limits.max_daily_loss_usd
        if today > self.breaker.trading_date:
            self._breaker_event(self.breaker.roll_day(today, ts_ns))

    def _breaker_event(self, moved: BreakerTransition) -> BreakerTransition:
        if moved.trigger == "trip" and moved.from_state == "open":
            return moved  # an idempotent trip changes nothing
        event_type, severity = BREAKER_EVENTS[moved.trigger]
        self._event(event_type, severity, moved.reason, moved.at_ns, rule="circuit_breaker",
                    from_state=moved.from_state, to_state=moved.to_state, changed_by=moved.changed_by,
                    reduced_size=moved.reduced_size)
        return moved

    def _event(self, event_type: str, severity: Severity, message: str, at_ns: int, **metadata: Any) -> None:
        self._events.append(RiskEvent(event_type=event_type, severity=severity, message=message,
                                      occurred_at_ns=at_ns, metadata=metadata))

    # ---- events, status, restarts ------------------------------------------------------------

    def drain_events(self) -> list[RiskEvent]:
        queued, self._events = self._events, []
        return [e if isinstance(e, RiskEvent) else rejection_event(self._prefix, *e) for e in queued]

    def snapshot(self) -> dict[str, Any]:
        """Plain values for status views: account totals in cents, rows exact (Decimals as strings)."""
        return status_of(self)

    def restore(
        self,
        positions: list[PositionRow],
        daily_pnl: DailyPnlRow | None,
        breaker_record: BreakerRecord | None,
        open_intents: Iterable[OrderIntent] = (),
    ) -> None:
        """Rebuild after a restart from stored rows; orders still open at the broker count as pending. Targets come
        back from the open orders' ids (over those a re-run core holds); a held symbol without one waits for a signal."""
        now = self._clock()
        self.portfolio = Portfolio.restore(self.limits.initial_cash, positions, daily_pnl)
        self.breaker = CircuitBreaker(self.breaker.cooldown_ns)
        if breaker_record is not None:
            self.restore_breaker(breaker_record)
        self._book.clear()
        self._fills = FillLedger()
        for row in (r for r in positions if r.current_price > 0):  # a row without a price is no mark
            self._marks.restore(row.symbol, row.current_price, row.updated_at_ns)
        intents = list(open_intents)
        for intent in intents:
            self._book.add(intent.client_order_id, intent.symbol, intent.side == "buy", intent.qty, restored=True)
        for symbol, target in targets_from_orders(intents).items():
            if symbol not in self._targets or self._targets[symbol].ts_ns <= target.ts_ns:
                self._targets[symbol] = target
        for symbol in set(self.portfolio.open_symbols()) | self._book.symbols():
            self._refresh_active(symbol)
            if symbol not in self._targets:
                self._event("target_unknown_after_restore", "info", f"{symbol}: held without a known target after "
                            "a restore; kept until the next signal", now, symbol=symbol)
        self._day.forget()
        self._follow_day(now)
