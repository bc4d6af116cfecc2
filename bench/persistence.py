"""Persistence benchmark: rows/s the write-behind writer puts into PostgreSQL, and the caller's
enqueue latency (p50/p99) with the writer idle and with it busy.

    .venv/bin/python bench/persistence.py [--json] [--rows 100000]

Uses a throw-away database next to TRADING_BENCH_POSTGRES_URL (default: the local test server)
and drops it afterwards. Prices are real: closes of the shipped minute bars.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import os  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from cluster.foundation.domain.settings import REPO_ROOT  # noqa: E402
from cluster.foundation.domain.wire import OrderUpdate  # noqa: E402
from cluster.foundation.storage.db import SqlRepository, WriterOptions, upgrade  # noqa: E402

START_NS = 1_381_152_600_000_000_000  # 2013-10-07T13:30:00Z


def real_prices() -> list[tuple[str, Decimal]]:
    with (REPO_ROOT / "data" / "us_equity_minute_trade_bars.csv").open() as fh:
        return [(r["symbol"], Decimal(r["close"])) for r in csv.DictReader(fh) if r["timestamp"].startswith("2013-10")]


def fills(count: int, offset: int, prices: list[tuple[str, Decimal]]) -> list[OrderUpdate]:
    out = []
    for i in range(offset, offset + count):
        symbol, price = prices[i % len(prices)]
        ts = START_NS + i * 1_000_000
        coid = f"tc-{symbol}-{ts}"
        out.append(OrderUpdate(client_order_id=coid, broker_order_id=f"b{i}", symbol=symbol, side="buy",
                               status="filled", qty=Decimal(100), filled_qty=Decimal(100), ts_ns=ts,
                               filled_avg_price=price, last_fill_qty=Decimal(100), last_fill_price=price,
                               fill_id=f"f-{coid}"))
    return out


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1_000  # ns -> us


def risk_check_latencies(prices: list[tuple[str, Decimal]], n: int = 20_000) -> list[int]:
    """RiskCore.check() on a real-price stream (marks, mostly-holding targets): the hot path."""
    from actors.risk.core import RiskCore
    from cluster.foundation.domain.settings import load_settings
    from cluster.foundation.domain.wire import Signal

    limits = load_settings().risk.model_copy(update={"max_orders_per_minute": 10**6})
    now = [START_NS]
    core = RiskCore(limits, lambda: now[0])
    out = []
    for i in range(n):
        symbol, price = prices[i % len(prices)]
        now[0] += 1_000_000_000
        core.on_price(symbol, float(price), now[0])
        sig = Signal(symbol=symbol, ts_ns=now[0], group="g0", batch=1, target=(i // 500) % 2, strength=1.0,
                     price=float(price), model_version="bench", correlation_id="")
        t0 = time.perf_counter_ns()
        core.check(sig)
        out.append(time.perf_counter_ns() - t0)
    return out


def run(url: str, rows: int) -> dict[str, float | int | str]:
    prices = real_prices()
    with tempfile.TemporaryDirectory() as journal_dir:
        repo = SqlRepository(url, Path(journal_dir), WriterOptions(queue_max=max(rows * 2, 10_000)))
        try:
            risk_idle = risk_check_latencies(prices)  # the writer has nothing to do
            # idle: one write at a time, the writer has nothing else to do
            idle_lat = []
            for update in fills(2_000, 10_000_000, prices):
                t0 = time.perf_counter_ns()
                repo.record_fill(update)
                idle_lat.append(time.perf_counter_ns() - t0)
                time.sleep(0.0005)
            repo.flush()
            # busy: every fill is an order upsert + a trade insert; time every enqueue
            batch = fills(rows // 2, 0, prices)
            busy_lat = []
            started = time.perf_counter()
            for update in batch:
                t0 = time.perf_counter_ns()
                repo.record_order_update(update)
                t1 = time.perf_counter_ns()
                repo.record_fill(update)
                busy_lat.append(t1 - t0)
                busy_lat.append(time.perf_counter_ns() - t1)
            enqueued = time.perf_counter() - started
            risk_busy = risk_check_latencies(prices)  # while the writer drains the backlog just enqueued
            repo.flush()
            elapsed = time.perf_counter() - started
            health = repo.health()
        finally:
            repo.close()
    return {
        "backend": make_url(url).get_backend_name(),
        "rows": 2 * len(batch),
        "rows_per_s": round(2 * len(batch) / elapsed),
        "enqueue_s": round(enqueued, 3),
        "total_s": round(elapsed, 3),
        "enqueue_idle_p50_us": percentile(idle_lat, 0.50),
        "enqueue_idle_p99_us": percentile(idle_lat, 0.99),
        "enqueue_busy_p50_us": percentile(busy_lat, 0.50),
        "enqueue_busy_p99_us": percentile(busy_lat, 0.99),
        "batches": int(health["batches"]),
        "risk_check_idle_p50_us": percentile(risk_idle, 0.50),
        "risk_check_idle_p99_us": percentile(risk_idle, 0.99),
        "risk_check_busy_p50_us": percentile(risk_busy, 0.50),
        "risk_check_busy_p99_us": percentile(risk_busy, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rows", type=int, default=100_000, help="rows to write (half orders, half trades)")
    parser.add_argument("--sqlite", action="store_true", help="also measure SQLite")
    args = parser.parse_args()
    base = make_url(os.environ.get("TRADING_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"))
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    results = []
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        results.append(run(url, args.rows))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            upgrade(url)
            results.append(run(url, args.rows))
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
        return
    for r in results:
        print(f"[{r['backend']}] {r['rows']} rows in {r['total_s']}s = {r['rows_per_s']} rows/s "
              f"(goal >= 20000 on postgresql); {r['batches']} batches")
        print(f"  enqueue latency idle: p50 {r['enqueue_idle_p50_us']:.1f} us, p99 {r['enqueue_idle_p99_us']:.1f} us")
        print(f"  enqueue latency busy: p50 {r['enqueue_busy_p50_us']:.1f} us, p99 {r['enqueue_busy_p99_us']:.1f} us")
        print(f"  risk check idle: p50 {r['risk_check_idle_p50_us']:.1f} us, p99 {r['risk_check_idle_p99_us']:.1f} us;"
              f" writer busy: p50 {r['risk_check_busy_p50_us']:.1f} us, p99 {r['risk_check_busy_p99_us']:.1f} us")


if __name__ == "__main__":
    main()
