"""What CURVE costs the bus per batch: one 256-bar market-data envelope, XPUB -> SUB over loopback TCP
through cluster.foundation.runtime.bus, plain against CURVE (bus.curve = "always"), measured in the same run.

Run: .venv/bin/python bench/bus_curve.py [--batches 2000] [--json]   (part of `make bench`)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster.foundation.domain.wire import Bar, Envelope, encode  # noqa: E402
from cluster.foundation.runtime.bus import Publisher, Subscriber, topic  # noqa: E402
from cluster.foundation.runtime.bus_curve import BusSecurity, CurveGuard, CurveKeys  # noqa: E402

BARS = [Bar(f"S{i:03d}", 1_700_000_000_000_000_000 + i, 100.0 + i, 101.0, 99.0, 100.5, 1234.0, 12, 100.2)
        for i in range(256)]


def measure(security: BusSecurity | None, batches: int) -> dict[str, float]:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    t = topic("md", "all")
    pub = Publisher(ctx, "tcp://127.0.0.1:0", source="md", bind=True, security=security, hwm=batches + 10)
    sub = Subscriber(ctx, pub.address, topics=[t], bind=False, security=security, hwm=batches + 10)
    assert pub.wait_for_subscribers(t, 1, 5)
    one_way = []
    for _ in range(300):  # one batch at a time: sent -> received and decoded
        start = time.perf_counter()
        pub.send(t, BARS)
        while not sub.recv(timeout_ms=1000):
            pass
        one_way.append(time.perf_counter() - start)
    start, got = time.perf_counter(), 0
    for _ in range(batches):  # back to back
        pub.send(t, BARS)
    while got < batches:
        got += len(sub.recv(timeout_ms=1000))
    per_s = batches / (time.perf_counter() - start)
    pub.close()
    sub.close()
    CurveGuard.stop_for(ctx)
    ctx.term()
    return {"median_us": statistics.median(one_way) * 1e6, "p99_us": statistics.quantiles(one_way, n=100)[98] * 1e6,
            "batches_per_s": per_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    keys = CurveKeys.from_secrets(zmq.curve_keypair()[1].decode(), zmq.curve_keypair()[1].decode())
    result = {"envelope_bytes": len(encode(Envelope("md", 1, 1, BARS))),
              "plain": measure(None, args.batches),
              "curve": measure(BusSecurity(keys, everywhere=True), args.batches)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"one envelope of 256 bars: {result['envelope_bytes']} bytes")
    for name in ("plain", "curve"):
        r = result[name]
        print(f"{name}: sent->decoded median {r['median_us']:.0f} us, p99 {r['p99_us']:.0f} us; "
              f"{r['batches_per_s']:.0f} batches/s back to back")


if __name__ == "__main__":
    main()
