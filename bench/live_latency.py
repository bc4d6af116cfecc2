"""Latency and memory of the running cluster at 10,000 events/s over 1,000 symbols.

Source: `market_data.source = "synthetic"` (actors/market_data/synthetic.py: quotes and bars of a
seeded random walk, spread evenly in time) paced at real time (`speed = 1`), so the feed publishes
events at the configured rate for the configured seconds; everything downstream is the cluster's
own code path: signal actors, risk, execution with the simulated broker, over ZeroMQ, on a local
Ray with its metrics agent. The percentiles are read from Ray's Prometheus export of the actors'
histograms (cluster/foundation/runtime/metrics.py), interpolated inside buckets, so they are only as fine as the
bucket boundaries.

What the histograms measure:
* trading_tick_to_decision_seconds (risk): a batch's market data complete at the risk actor -> the
  batch's order batch decided and sent. One sample per batch (with or without orders): it is the
  lockstep wait for every signal group plus the risk decision.
* trading_tick_to_order_seconds (execution): a batch's market data received -> its orders
  submitted; only batches that carry orders. It also includes waiting for the execution loop
  (the intent commits of earlier orders).
* trading_order_ack_seconds (execution): submit -> broker acknowledgement (sim broker: in-process,
  so almost all of it is the intent-log commit).
* trading_risk_check_seconds (risk), trading_feature_update_seconds (signal): the cores' share.
An event also waits inside the feed until its batch is cut (batch events at the event rate: the
batch cut interval): that wait is not in any histogram and is reported beside them.

Orders: with the default strategy settings the random walk gives a few dozen orders a minute, too
few for a p99.9 of tick-to-order. Unless `--default-strategy` is given, the run widens the RSI band
(buy below 40, sell above 60) and lifts the position-count, exposure and order-rate limits (values in
the JSON output, "strategy"), so that many batches carry orders; the cluster's code path is the same.

Memory: the summed RSS and PSS (shared pages counted once, /proc/PID/smaps_rollup) of the whole
process tree (this driver, Ray's processes, every actor), sampled every 0.5 s, with the
per-process breakdown at the RSS peak (bench/proc_memory.py). The dashboard is off unless
`--dashboard` (the run does not need it: the metrics export is the dashboard agent's).

Run: .venv/bin/python bench/live_latency.py [--symbols 1000] [--rate 10000] [--seconds 60]
     [--batch-ms 25.6 | --batch 256] [--group-size N] [--dashboard] [--default-strategy]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from proc_memory import PeakTracker, tree_memory  # noqa: E402

HISTOGRAMS = ("trading_tick_to_decision_seconds", "trading_tick_to_order_seconds", "trading_order_ack_seconds",
              "trading_risk_check_seconds", "trading_feature_update_seconds")
# More orders than the defaults give (see the module docstring); the cluster's code path is unchanged.
BUSY_SIGNAL = {"rsi_buy_below": 40.0, "rsi_sell_above": 60.0}
BUSY_RISK = {"max_open_positions": 1000, "max_total_exposure_usd": 100_000_000, "initial_cash": 100_000_000,
             "max_orders_per_minute": 100_000, "max_daily_loss_usd": 10_000_000}
_BUCKET = re.compile(r'^(?:ray_)?(\w+)_bucket\{([^}]*)\}\s+([0-9.eE+-]+)')


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def scrape_buckets(port: int) -> dict[str, list[tuple[float, float]]]:
    """Cumulative (le, count) per histogram, summed over every series (actors, workers)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    acc: dict[str, dict[float, float]] = {}
    for line in text.splitlines():
        m = _BUCKET.match(line)
        if not m or m.group(1) not in HISTOGRAMS:
            continue
        le = re.search(r'le="([^"]+)"', m.group(2))
        if le is None:
            continue
        bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
        acc.setdefault(m.group(1), {})
        acc[m.group(1)][bound] = acc[m.group(1)].get(bound, 0.0) + float(m.group(3))
    return {name: sorted(b.items()) for name, b in acc.items()}


def percentile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus-style histogram_quantile: linear inside the bucket that holds rank q * count."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, cum in buckets:
        if cum >= rank:
            if bound == float("inf"):
                return lower
            inside = cum - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cum
    return lower


def summarize(buckets: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in HISTOGRAMS:
        b = buckets.get(name, [])
        out[name] = {"count": int(b[-1][1]) if b else 0,
                     **{f"p{label}_ms": _ms(percentile(b, q)) for label, q in (("50", 0.5), ("99", 0.99),
                                                                              ("99.9", 0.999))}}
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def run(symbols: int, rate: float, seconds: float, batch: int, dashboard: bool = False, group_size: int | None = None,
        busy: bool = True) -> dict[str, Any]:
    os.environ["RAY_AUTH_MODE"] = "disabled"
    from decimal import Decimal

    from pydantic import SecretStr

    from cluster.app.supervisor import Supervisor
    from cluster.foundation.domain.settings import load_settings
    from cluster.foundation.runtime import ray_calls

    state = Path(tempfile.mkdtemp(prefix="bench-live-"))
    base = load_settings()
    md_port, sig_port, orders_port, reports_port, dash_port = _free_ports(5)
    signal = {"group_size": group_size, **(BUSY_SIGNAL if busy else {})}
    risk = {k: Decimal(v) if isinstance(getattr(base.risk, k), Decimal) else v
            for k, v in (BUSY_RISK if busy else {}).items()}
    settings = base.model_copy(update={
        "state_dir": str(state),
        "ray": base.ray.model_copy(update={"address": "local", "include_dashboard": dashboard,
                                           "dashboard_port": dash_port, "metrics_report_interval_ms": 1000}),
        "bus": base.bus.model_copy(update={"market_data_port": md_port, "signals_port": sig_port,
                                           "orders_port": orders_port, "reports_port": reports_port}),
        "market_data": base.market_data.model_copy(update={
            "source": "synthetic", "synthetic_symbols": symbols, "synthetic_events_per_s": rate,
            "synthetic_seconds": seconds, "speed": 1.0, "batch_bars": batch}),
        "signal": base.signal.model_copy(update=signal),
        "risk": base.risk.model_copy(update=risk),
        "execution": base.execution.model_copy(update={"broker": "sim"}),
        "database": base.database.model_copy(update={"url": SecretStr(f"sqlite:///{state}/trading.db")}),
    })
    memory = PeakTracker()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            memory.add(tree_memory(os.getpid()))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sup = Supervisor(settings)
    try:
        sup.start()
        t0 = time.time()
        sup.start_feed()
        stats = sup.run_until_done(seconds * 10 + 120, tick_s=1.0)
        wall = time.time() - t0
        summary = sup.summary(stats)
        time.sleep(2.5)  # two metric report intervals: the last observations reach the export
        buckets = scrape_buckets(ray_calls.metrics_export_port())
    finally:
        stop.set()
        sup.shutdown()
    feed = stats.get("market_data", {})
    published_s = float(feed.get("publish_seconds") or 0.0)
    events = int(feed.get("events", 0))
    mem = memory.report()
    return {
        "source": "synthetic (actors/market_data/synthetic.py), paced at real time (speed 1)",
        "symbols": symbols, "target_events_per_s": rate, "target_seconds": seconds, "batch_events": batch,
        "batch_interval_ms_at_target": round(1000 * batch / rate, 1),
        "include_dashboard": dashboard,
        "strategy": {"busy": busy, "signal": {k: v for k, v in signal.items() if k != "group_size"},
                     "risk": {k: str(v) for k, v in risk.items()}},
        "events": events, "publish_seconds": round(published_s, 2),
        "achieved_events_per_s": round(events / published_s, 1) if published_s else None,
        "feed_to_settled_seconds": summary["wall_seconds"], "command_seconds": round(wall, 2),
        "orders": summary["orders"], "signals": summary["signals"], "group_plan": summary["group_plan"],
        "histograms": summarize(buckets),
        "peak_rss_mb_all_processes": mem["peak_rss_mb"], "processes_at_peak": mem["processes_at_rss_peak"],
        "pss_mb_at_rss_peak": mem["pss_mb_at_rss_peak"], "peak_pss_mb_all_processes": mem["peak_pss_mb"],
        "memory_by_process_at_rss_peak": mem["by_process_at_rss_peak"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--symbols", type=int, default=1000)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--batch", type=int, default=256, help="events per feed batch")
    p.add_argument("--batch-ms", type=float, help="batch cut interval in ms (events per batch = rate x interval; "
                   "the synthetic events are evenly spaced, so cutting by count is cutting by time)")
    p.add_argument("--group-size", type=int, help="symbols per signal actor (default: sized by the cluster)")
    p.add_argument("--dashboard", action="store_true", help="start Ray's dashboard too")
    p.add_argument("--default-strategy", action="store_true", help="the strategy and risk limits as configured")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    batch = max(1, round(args.rate * args.batch_ms / 1000)) if args.batch_ms else args.batch
    load = os.getloadavg()
    result = run(args.symbols, args.rate, args.seconds, batch, dashboard=args.dashboard, group_size=args.group_size,
                 busy=not args.default_strategy)
    result["load_average_before"] = [round(x, 2) for x in load]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
