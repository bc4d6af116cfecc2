"""Market-data path throughput: Alpaca frames (JSON and msgpack, built from the real CSVs) are parsed
(FeedParser), booked (BookKeeper.apply) and published (cluster.foundation.runtime.bus.Publisher over loopback tcp to one
subscriber process that drains and counts). Goal: >= 200,000 messages/s.

    .venv/bin/python bench/feed.py [--repeat 5] [--frame 100] [--poll 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import socket
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors.market_data.alpaca_feed_parse import FeedParser  # noqa: E402
from actors.market_data.batcher import MarketDataShards  # noqa: E402
from actors.market_data.book import BookKeeper  # noqa: E402
from alpaca_sim.data import BarEvent, MarketEvent, QuoteEvent, load_timeline  # noqa: E402
from alpaca_sim.timefmt import format_utc, msgpack_timestamp  # noqa: E402
from cluster.foundation.domain.wire import Message  # noqa: E402
from cluster.foundation.runtime.bus import MARKET_DATA, Publisher, Subscriber, channel_prefix  # noqa: E402

DATA = ROOT / "data"
FILES = [DATA / "us_equity_minute_trade_bars.csv", DATA / "us_equity_minute_quote_bars.csv",
         DATA / "us_equity_trade_ticks_IBM_2013-10-07.csv"]
GOAL = 200_000


def _alpaca(event: MarketEvent, stamp: Any) -> dict[str, Any]:
    if isinstance(event, BarEvent):
        return {"T": "b", "S": event.symbol, "o": event.open, "h": event.high, "l": event.low, "c": event.close,
                "v": event.volume, "t": stamp, "n": None, "vw": None}
    if isinstance(event, QuoteEvent):
        return {"T": "q", "S": event.symbol, "bx": "", "bp": event.bid, "bs": event.bid_size, "ax": "",
                "ap": event.ask, "as": event.ask_size, "c": [], "t": stamp, "z": "A"}
    return {"T": "t", "S": event.symbol, "i": event.trade_id, "x": event.exchange, "p": event.price,
            "s": event.size, "c": [], "t": stamp, "z": "A"}


def build_frames(events: list[MarketEvent], per_frame: int, msgpack: bool) -> list[bytes | str]:
    frames: list[bytes | str] = []
    for start in range(0, len(events), per_frame):
        chunk = events[start:start + per_frame]
        if msgpack:
            frames.append(msgspec.msgpack.encode([_alpaca(e, msgpack_timestamp(e.ts_ns)) for e in chunk]))
        else:
            frames.append(json.dumps([_alpaca(e, format_utc(e.ts_ns)) for e in chunk]))
    return frames


def _drain(address: str, expected: int, ready: Any, done: Any) -> None:
    ctx = zmq.Context()
    sub = Subscriber(ctx, address, topics=[channel_prefix(MARKET_DATA)], bind=False)
    ready.set()
    received = 0
    while received < expected:
        for _topic, envelope in sub.recv(timeout_ms=100, max_envelopes=10_000):
            received += len(envelope.items)
    done.put((received, sub.stats.gaps, sub.stats.bad_messages))
    sub.close()
    ctx.term()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_stage(frames: list[bytes | str], msgpack: bool, repeat: int, stage: str, poll_items: int) -> dict[str, Any]:
    """stage: parse | book | publish (each includes the ones before it); publishing happens once per
    `poll_items` messages, like the actor publishing what one AlpacaFeed.poll() returned."""
    parser = FeedParser(msgpack=msgpack)
    keeper = BookKeeper()
    total = sum(len(parser.parse(f).items) for f in frames) * repeat
    publisher = None
    done: Any = None
    proc = None
    ctx = zmq.Context()
    if stage == "publish":
        address = f"tcp://127.0.0.1:{_free_port()}"
        publisher = Publisher(ctx, address, source="bench-feed", bind=True, hwm=100_000)
        spawn = mp.get_context("spawn")
        ready, done = spawn.Event(), spawn.Queue()
        proc = spawn.Process(target=_drain, args=(address, total, ready, done), daemon=True)
        proc.start()
        ready.wait(30)
        publisher.wait_for_subscribers(channel_prefix(MARKET_DATA), 1, 30)
    shards = MarketDataShards()
    started = time.perf_counter()
    polled: list[Message] = []
    pending = 0
    for _ in range(repeat):
        for index, frame in enumerate(frames):
            items = parser.parse(frame).items
            if stage == "parse":
                continue
            for item in items:
                keeper.apply(item)  # type: ignore[arg-type]
            polled += items
            pending += len(items)
            if publisher is not None and (pending >= poll_items or index == len(frames) - 1):
                for name, batch in shards.split(polled).items():  # one envelope per shard per poll, as the actor sends
                    publisher.send(name, batch)
                polled, pending = [], 0
            elif publisher is None:
                polled.clear()
    received = total
    if publisher is not None and proc is not None:
        received, gaps, bad = done.get(timeout=120)
        proc.join(10)
        publisher.close()
        assert gaps == 0 and bad == 0, f"subscriber saw {gaps} gaps and {bad} bad messages"
    elapsed = time.perf_counter() - started
    ctx.term()
    return {"encoding": "msgpack" if msgpack else "json", "stage": stage, "messages": total,
            "received": received, "seconds": round(elapsed, 3), "msg_per_s": round(total / elapsed)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the real data")
    parser.add_argument("--frame", type=int, default=100, help="messages per websocket frame")
    parser.add_argument("--poll", type=int, default=1000, help="messages per poll (one publish round)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args()
    events = load_timeline(FILES)
    results = []
    for msgpack in (False, True):
        frames = build_frames(events, args.frame, msgpack)
        for stage in ("parse", "book", "publish"):
            results.append(run_stage(frames, msgpack, args.repeat, stage, args.poll))
    if args.json:
        print(json.dumps({"goal_msg_per_s": GOAL, "frame": args.frame, "poll": args.poll, "results": results}, indent=2))
    else:
        print(f"{'encoding':8} {'stage':8} {'messages':>10} {'seconds':>8} {'msg/s':>10}  goal {GOAL:,}")
        for r in results:
            mark = "ok" if r["msg_per_s"] >= GOAL or r["stage"] != "publish" else "BELOW"
            print(f"{r['encoding']:8} {r['stage']:8} {r['messages']:>10,} {r['seconds']:>8} "
                  f"{r['msg_per_s']:>10,}  {mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
