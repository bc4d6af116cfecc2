"""Latency of RiskCore.check() on a real-price stream with a full book (5 positions).

Run: .venv/bin/python bench/risk.py [n_signals] [switch]
Every bar of the real minute file marks its symbol; after each mark a signal for that symbol is
checked. Each symbol keeps its wanted target and changes it (to -1, 0 or +1, seeded) with probability
`switch` per signal (mostly to long or short, sometimes to flat): 0.02 is a strategy that mostly holds, 1.0 churns. Approved orders are filled at
once, outside the timed call, so the book stays near its five-position limit. Prints p50/p99/mean of
check() in microseconds, per outcome.
"""

from __future__ import annotations

import csv
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_ROOT), str(_ROOT / "tests" / "unit" / "risk")]

from risk_fakes import DATA, FakeBroker, FakeClock, make_signal, open_position, seed_limits  # noqa: E402

from actors.risk.core import Approved, RiskCore  # noqa: E402

SYMBOLS = ("SPY", "IBM", "BAC", "AIG", "AAPL")


def _bars() -> list[tuple[str, float]]:
    with (DATA / "us_equity_minute_trade_bars.csv").open() as fh:
        return [(r["symbol"], float(r["close"])) for r in csv.DictReader(fh) if r["symbol"] in SYMBOLS]


def main(n_signals: int, switch: float) -> None:
    rng = random.Random(7)
    clock = FakeClock()
    # Seed limits, except the order rate and the daily loss: the stream must not halt what is measured.
    core = RiskCore(seed_limits(max_orders_per_minute=100_000, max_daily_loss_usd=Decimal(10**9)), clock)
    broker = FakeBroker(core, clock)
    bars = _bars()
    first = {s: next(p for sym, p in bars if sym == s) for s in SYMBOLS}
    for symbol in SYMBOLS:
        open_position(core, broker, clock, symbol, first[symbol])
    assert len(core.portfolio.open_symbols()) == 5
    timings: dict[str, list[int]] = {}
    wanted = dict.fromkeys(SYMBOLS, 1)
    i = 0
    while i < n_signals:
        symbol, price = bars[i % len(bars)]
        clock.advance(0.05)
        core.on_price(symbol, price, clock())
        if rng.random() < switch:
            wanted[symbol] = rng.choice((1, -1, 1, -1, 0))
        signal = make_signal(symbol, wanted[symbol], price, clock(), batch=i)
        start = time.perf_counter_ns()
        decision = core.check(signal)
        took = time.perf_counter_ns() - start
        outcome = "approved" if isinstance(decision, Approved) else f"rejected:{decision.rule}"
        timings.setdefault(outcome, []).append(took)
        if isinstance(decision, Approved):
            broker.accept(decision.intent)
            broker.fill(decision.intent.client_order_id, decision.intent.qty, Decimal(repr(price)))
        core.drain_events()
        i += 1
    every = sorted(t for ts in timings.values() for t in ts)
    print(f"check() over {len(every)} signals, switch={switch}, {len(core.portfolio.open_symbols())} positions at the end")
    print(_line("all", every))
    for outcome, ts in sorted(timings.items(), key=lambda kv: -len(kv[1])):
        print(_line(outcome, sorted(ts)))


def _line(label: str, ts: list[int]) -> str:
    p50, p99 = ts[len(ts) // 2], ts[min(len(ts) - 1, int(len(ts) * 0.99))]
    return f"  {label:32s} n={len(ts):6d}  p50={p50 / 1e3:6.2f}us  p99={p99 / 1e3:6.2f}us  mean={statistics.fmean(ts) / 1e3:6.2f}us"


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000, float(sys.argv[2]) if len(sys.argv) > 2 else 0.02)
