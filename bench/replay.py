"""Bars per second through the full pipeline vs backtrader, on the shipped minute bars, in one run.

Ours: `trading-cluster replay` semantics -- a local Ray cluster, the feed, one signal actor per
symbol group (streaming RSI/MACD/Bollinger + the rule baseline), the risk actor and the execution
actor with the simulated broker, all over ZeroMQ; timed by the actors from the first batch
published to the last batch settled (Ray start-up excluded, reported separately).
Baseline: backtrader running an SMA(10/30) cross on the same bars (one data feed per symbol).
Also: per-stage latencies of the pure cores (feature update, risk check, book update).

Run: .venv/bin/python bench/replay.py [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "data" / "us_equity_minute_trade_bars.csv"
QUOTES = ROOT / "data" / "us_equity_minute_quote_bars.csv"


def load_bars(path: Path = DATA, symbols: set[str] | None = None) -> dict[str, list[tuple[str, float, float, float,
                                                                                   float, float]]]:
    out: dict[str, list] = {}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if symbols is not None and row["symbol"] not in symbols:
                continue
            out.setdefault(row["symbol"], []).append(
                (row["timestamp"], float(row["open"]), float(row["high"]), float(row["low"]), float(row["close"]),
                 float(row["volume"])))
    return out


def run_backtrader(bars: dict[str, list]) -> dict[str, float]:
    import backtrader as bt
    import pandas as pd

    class SmaCross(bt.Strategy):
        params = (("fast", 10), ("slow", 30))

        def __init__(self) -> None:
            self.cross = {d: bt.ind.CrossOver(bt.ind.SMA(d.close, period=self.p.fast),
                                              bt.ind.SMA(d.close, period=self.p.slow)) for d in self.datas}

        def next(self) -> None:
            for d, cross in self.cross.items():
                if not self.getposition(d).size and cross > 0:
                    self.buy(data=d, size=10)
                elif self.getposition(d).size and cross < 0:
                    self.close(data=d)

    cerebro = bt.Cerebro(stdstats=False)
    n = 0
    for symbol, rows in sorted(bars.items()):
        df = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
        df.index = pd.to_datetime(df.pop("ts")).dt.tz_localize(None)
        cerebro.adddata(bt.feeds.PandasData(dataname=df, timeframe=bt.TimeFrame.Minutes), name=symbol)
        n += len(df)
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(100_000)
    t0 = time.perf_counter()
    cerebro.run()
    wall = time.perf_counter() - t0
    return {"bars": n, "wall_seconds": wall, "bars_per_s": n / wall}


def run_pipeline(symbols: list[str], repeat: int) -> dict[str, object]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from pydantic import SecretStr

    from cluster.app.supervisor import Supervisor
    from cluster.foundation.domain.settings import load_settings
    from cluster.foundation.runtime import ray_calls

    base = load_settings()
    t0 = time.perf_counter()
    ray_calls.init_cluster(base.ray.model_copy(update={"include_dashboard": False}))
    ray_start = time.perf_counter() - t0
    runs: list[dict] = []
    lockstep: list[dict] = []  # risk.pipeline_depth = 1, interleaved with the default runs
    try:
        for i, depth in ((i, d) for i in range(repeat) for d in (2, 1)):
            settings = base.model_copy(update={
                "market_data": base.market_data.model_copy(update={
                    "source": "replay", "files": (str(DATA),), "start": None, "end": None, "speed": 0.0,
                    "batch_bars": 512}),
                "signal": base.signal.model_copy(update={"universe": tuple(symbols), "group_size": 2}),
                "execution": base.execution.model_copy(update={"broker": "sim"}),
                "database": base.database.model_copy(update={"url": SecretStr("memory://")}),
                "risk": base.risk.model_copy(update={"pipeline_depth": depth}),
            })
            sup = Supervisor(settings)
            t1 = time.perf_counter()
            sup.start()
            setup = time.perf_counter() - t1
            try:
                sup.start_feed()
                stats = sup.run_until_done(600, tick_s=0.1)
                summary = sup.summary(stats)
            finally:
                sup.shutdown()
            summary["actor_setup_seconds"] = round(setup, 3)
            (runs if depth == 2 else lockstep).append(summary)
            print(f"  pipeline run {i + 1} (pipeline depth {depth}): {summary['bars']} bars in {summary['wall_seconds']:.3f}s = "
                  f"{summary['bars_per_s']:,.0f} bars/s, {summary['orders']} orders", file=sys.stderr)
    finally:
        ray_calls.shutdown()
    digests = {r["ledger_digest"] for r in runs}
    best = max(runs, key=lambda r: r["bars_per_s"])
    return {"runs": runs, "best": best, "median_bars_per_s": statistics.median(r["bars_per_s"] for r in runs),
            "deterministic": len(digests) == 1, "ray_start_seconds": round(ray_start, 2),
            "lockstep": {"median_bars_per_s": statistics.median(r["bars_per_s"] for r in lockstep),
                         "deterministic": len({r["ledger_digest"] for r in lockstep}) == 1,
                         "orders": lockstep[0]["orders"]}}


def _pcts(ns: list[int]) -> dict[str, float]:
    ns.sort()
    return {"p50_us": ns[len(ns) // 2] / 1000, "p99_us": ns[int(len(ns) * 0.99)] / 1000, "n": len(ns)}


def stage_latencies(bars: dict[str, list]) -> dict[str, dict[str, float]]:
    from actors.market_data.book import BookKeeper
    from cluster.foundation.storage.market_files import read_quote_bars
    from models.features.streaming import StreamingFeatures

    feat: list[int] = []
    for rows in bars.values():
        f = StreamingFeatures()
        for _, _o, h, low, c, v in rows:
            t = time.perf_counter_ns()
            f.update_bar(c, h, low, v)
            feat.append(time.perf_counter_ns() - t)
    book: list[int] = []
    keeper = BookKeeper()
    for q in read_quote_bars(QUOTES):
        t = time.perf_counter_ns()
        keeper.apply(q)
        book.append(time.perf_counter_ns() - t)
    return {"feature_update": _pcts(feat), "book_update": _pcts(book), "risk_check": risk_check_latency(bars)}


def risk_check_latency(bars: dict[str, list]) -> dict[str, float]:
    """check() on every bar with a full book: each symbol holds a position, signals mostly hold."""
    import random

    from actors.risk.core import Approved, RiskCore
    from cluster.foundation.domain.settings import load_settings
    from cluster.foundation.domain.wire import OrderUpdate, Signal

    limits = load_settings().risk.model_copy(update={"max_orders_per_minute": 10**6,
                                                     "max_daily_loss_usd": Decimal(10**9)})
    now = [0]
    core = RiskCore(limits, lambda: now[0])
    rng = random.Random(7)
    stream = sorted((ts, sym, c) for sym, rows in bars.items() for ts, _o, _h, _l, c, _v in rows)
    targets: dict[str, int] = {}
    out: list[int] = []
    for i, (_ts, sym, close) in enumerate(stream):
        now[0] = i * 1_000_000_000
        core.on_price(sym, close, now[0])
        if rng.random() < 0.05:
            targets[sym] = rng.choice((-1, 0, 1, 1))
        sig = Signal(symbol=sym, ts_ns=now[0], group="g0", batch=1, target=targets.get(sym, 1), strength=1.0,
                     price=close, model_version="bench", correlation_id="")
        t = time.perf_counter_ns()
        decision = core.check(sig)
        out.append(time.perf_counter_ns() - t)
        if isinstance(decision, Approved):
            it = decision.intent
            core.on_order_update(OrderUpdate(
                client_order_id=it.client_order_id, broker_order_id="b", symbol=sym, side=it.side, status="filled",
                qty=it.qty, filled_qty=it.qty, ts_ns=now[0], last_fill_qty=it.qty,
                last_fill_price=Decimal(repr(close)), filled_avg_price=Decimal(repr(close)), fill_id=it.client_order_id))
    return _pcts(out) | {"open_positions_at_end": len(core.portfolio.open_symbols())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    bars = load_bars()
    symbols = sorted(bars)
    print("backtrader ...", file=sys.stderr)
    bt = run_backtrader(bars)
    print(f"  backtrader: {bt['bars']} bars in {bt['wall_seconds']:.2f}s = {bt['bars_per_s']:,.0f} bars/s",
          file=sys.stderr)
    print("pipeline ...", file=sys.stderr)
    ours = run_pipeline(symbols, args.repeat)
    stages = stage_latencies(bars)
    result = {
        "bars_file": DATA.name, "symbols": symbols, "backtrader": bt, "pipeline": ours,
        "ratio_vs_backtrader": ours["median_bars_per_s"] / bt["bars_per_s"], "stages": stages,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(f"pipeline median {ours['median_bars_per_s']:,.0f} bars/s vs backtrader {bt['bars_per_s']:,.0f} "
              f"bars/s: {result['ratio_vs_backtrader']:.2f}x; deterministic={ours['deterministic']}")
        for name, st in stages.items():
            print(f"  {name}: p50 {st['p50_us']:.2f} us, p99 {st['p99_us']:.2f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
