"""Latency of the running cluster at 10,000 events/s over 1,000 symbols, from the histograms the actors export.

Source: `market_data.source = "synthetic"` (actors/market_data/synthetic.py: quotes and bars of a
seeded random walk, spread evenly in time) paced at real time (`speed = 1`), so the feed publishes
events at the configured rate for the configured seconds; everything downstream is the cluster's
own code path: signal actors, risk, execution with the simulated broker, over ZeroMQ, on a local
Ray with its metrics agent. The percentiles are read from Ray's Prometheus export of the actors'
histograms (cluster/foundation/metrics.py), interpolated inside buckets, so they are only as fine as the
bucket boundaries.

What the histograms measure:
* trading_tick_to_order_seconds (execution): a batch's market data received -> its orders
  submitted. It includes waiting for every signal group and for the risk decision of the batch,
  so it is the tick-to-decision time seen by execution plus the submit itself.
* trading_order_ack_seconds (execution): submit -> broker acknowledgement (sim broker: in-process).
  The actors export no tick-to-decision histogram: the figure reported for it is tick-to-order
  minus order ack at the same percentile, an estimate (percentiles do not subtract exactly).
* trading_risk_check_seconds (risk), trading_feature_update_seconds (signal): the cores' share.
An event also waits inside the feed until its batch is cut (batch_bars events at the event rate):
that wait is not in any histogram and is reported beside them.

Run: .venv/bin/python bench/live_latency.py [--symbols 1000] [--rate 10000] [--seconds 60] [--json]
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

from scale import tree_rss_bytes  # noqa: E402

HISTOGRAMS = ("trading_tick_to_order_seconds", "trading_order_ack_seconds", "trading_risk_check_seconds",
              "trading_feature_update_seconds")
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
    tto, ack = out["trading_tick_to_order_seconds"], out["trading_order_ack_seconds"]
    out["tick_to_decision"] = {k: None if tto[k] is None else round(max(0.0, tto[k] - (ack[k] or 0.0)), 3)
                               for k in ("p50_ms", "p99_ms", "p99.9_ms")}
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def run(symbols: int, rate: float, seconds: float, batch: int) -> dict[str, Any]:
    os.environ["RAY_AUTH_MODE"] = "disabled"
    from pydantic import SecretStr

    from cluster.app.supervisor import Supervisor
    from cluster.foundation import ray_calls
    from cluster.foundation.settings import load_settings

    state = Path(tempfile.mkdtemp(prefix="bench-live-"))
    base = load_settings()
    md_port, sig_port, orders_port, reports_port, dash_port = _free_ports(5)
    settings = base.model_copy(update={
        "state_dir": str(state),
        "ray": base.ray.model_copy(update={"address": "local", "include_dashboard": True, "dashboard_port": dash_port,
                                           "metrics_report_interval_ms": 1000}),
        "bus": base.bus.model_copy(update={"market_data_port": md_port, "signals_port": sig_port,
                                           "orders_port": orders_port, "reports_port": reports_port}),
        "market_data": base.market_data.model_copy(update={
            "source": "synthetic", "synthetic_symbols": symbols, "synthetic_events_per_s": rate,
            "synthetic_seconds": seconds, "speed": 1.0, "batch_bars": batch}),
        "execution": base.execution.model_copy(update={"broker": "sim"}),
        "database": base.database.model_copy(update={"url": SecretStr(f"sqlite:///{state}/trading.db")}),
    })
    peak = {"rss": 0, "procs": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss, n = tree_rss_bytes(os.getpid())
            if rss > peak["rss"]:
                peak.update(rss=rss, procs=n)
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
    return {
        "source": "synthetic (actors/market_data/synthetic.py), paced at real time (speed 1)",
        "symbols": symbols, "target_events_per_s": rate, "target_seconds": seconds, "batch_events": batch,
        "batch_interval_ms_at_target": round(1000 * batch / rate, 1),
        "events": events, "publish_seconds": round(published_s, 2),
        "achieved_events_per_s": round(events / published_s, 1) if published_s else None,
        "feed_to_settled_seconds": summary["wall_seconds"], "command_seconds": round(wall, 2),
        "orders": summary["orders"], "signals": summary["signals"], "group_plan": summary["group_plan"],
        "histograms": summarize(buckets),
        "peak_rss_mb_all_processes": round(peak["rss"] / 2**20, 1), "processes_at_peak": peak["procs"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--symbols", type=int, default=1000)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--batch", type=int, default=256, help="events per feed batch")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    load = os.getloadavg()
    result = run(args.symbols, args.rate, args.seconds, args.batch)
    result["load_average_before"] = [round(x, 2) for x in load]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
