"""python -m alpaca_sim --port 8190 --data data/us_equity_minute_trade_bars.csv --data ..."""

from __future__ import annotations

import argparse
import json
import logging
from decimal import Decimal

from aiohttp import web

from alpaca_sim.config import SimConfig
from alpaca_sim.server import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="alpaca_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--data", action="append", default=[], help="CSV file from data/ (repeatable)")
    parser.add_argument("--speed", type=float, default=60.0, help="replayed seconds per second; 0 = step only")
    parser.add_argument("--start", default=None, help="first replayed time (RFC-3339 or YYYY-MM-DD)")
    parser.add_argument("--key-id", default="sim-key")
    parser.add_argument("--secret-key", default="sim-secret")
    parser.add_argument("--rate-limit", type=int, default=200)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--cash", default="100000")
    parser.add_argument("--allow-short", action="store_true")
    parser.add_argument("--fault", action="append", default=[], help="JSON fault spec (see alpaca_sim.faults)")
    args = parser.parse_args(argv)
    config = SimConfig(
        key_id=args.key_id, secret_key=args.secret_key, data_files=tuple(args.data), speed=args.speed,
        start=args.start, rate_limit=args.rate_limit, rate_window_s=args.rate_window,
        initial_cash=Decimal(args.cash), allow_short=args.allow_short,
        faults=tuple(json.loads(f) for f in args.fault),
    )
    logging.basicConfig(level=logging.INFO)
    web.run_app(create_app(config), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
