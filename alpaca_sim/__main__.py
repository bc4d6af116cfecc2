"""python -m alpaca_sim --port 8190 --data data/us_equity_minute_trade_bars.csv --data ..."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
from decimal import Decimal

from aiohttp import web

from alpaca_sim.config import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, SimConfig
from alpaca_sim.server import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="alpaca_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", type=_host,
                        help="interface address to bind (loopback unless --allow-remote)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (needs keys other than the defaults)")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--data", action="append", default=[], help="CSV file from data/ (repeatable)")
    parser.add_argument("--speed", type=float, default=60.0, help="replayed seconds per second; 0 = step only")
    parser.add_argument("--start", default=None, help="first replayed time (RFC-3339 or YYYY-MM-DD)")
    parser.add_argument("--key-id", default=DEFAULT_KEY_ID)
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    parser.add_argument("--rate-limit", type=int, default=200)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--cash", default="100000")
    parser.add_argument("--account", choices=("margin", "cash"), default="margin",
                        help="margin (Alpaca paper's default: 4x, shorting) or cash (1x, no shorting)")
    parser.add_argument("--multiplier", type=int, choices=(2, 4), default=4, help="margin multiplier")
    parser.add_argument("--allow-short", action="store_true", help="let a cash account short")
    parser.add_argument("--fault", action="append", default=[], help="JSON fault spec (see alpaca_sim.faults)")
    args = parser.parse_args(argv)
    if is_wildcard(args.host):
        parser.error(f"--host {args.host} binds every interface: give one address")
    if not is_loopback(args.host) and not args.allow_remote:
        parser.error(f"--host {args.host} is not a loopback address: add --allow-remote to listen on it")
    if not is_loopback(args.host) and (args.key_id == DEFAULT_KEY_ID or args.secret_key == DEFAULT_SECRET_KEY):
        parser.error("a simulator reachable from other hosts needs its own --key-id and --secret-key")
    config = SimConfig(
        key_id=args.key_id, secret_key=args.secret_key, data_files=tuple(args.data), speed=args.speed,
        start=args.start, rate_limit=args.rate_limit, rate_window_s=args.rate_window,
        initial_cash=Decimal(args.cash), allow_short=args.allow_short, account_type=args.account,
        multiplier=args.multiplier,
        faults=tuple(json.loads(f) for f in args.fault),
    )
    logging.basicConfig(level=logging.INFO)
    web.run_app(create_app(config), host=args.host, port=args.port)


def _host(text: str) -> str:
    """An IP address or a host name; "" (which binds every interface) is refused."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("host must not be empty (an empty host binds every interface)")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if len(text) > 253 or not all(label and len(label) <= 63 and label.replace("-", "").isalnum()
                                  and label.isascii() for label in labels):
        raise argparse.ArgumentTypeError(f"not an IP address or host name: {text!r}")
    return text


def is_wildcard(host: str) -> bool:
    """"", 0.0.0.0 and :: bind every interface."""
    try:
        return not host.strip() or ipaddress.ip_address(host.strip()).is_unspecified
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """Wildcards ("", 0.0.0.0, ::) count as every interface, so not as loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    main()
