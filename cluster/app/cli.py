"""trading-cluster: run the cluster, replay data as fast as possible, operate a running cluster."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from cluster.foundation.domain.errors import ConfigError, DependencyDown, TradingError
from cluster.foundation.domain.settings import Settings, load_settings

log = logging.getLogger("trading.cli")


def _settings_with(args: argparse.Namespace, **section_overrides: dict[str, Any]) -> Settings:
    base = load_settings()
    merged: dict[str, Any] = {}
    for section, values in section_overrides.items():
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            merged[section] = getattr(base, section).model_copy(update=values)
    return base.model_copy(update=merged) if merged else base


def _isolate_replay_storage(settings: Settings, database: str | None) -> Settings:
    """A replay of historical data gets its own database and journal under var/runs/<run>/ unless one
    is named: its deterministic client_order_ids must not collide with an earlier run's intent log."""
    if database:
        return settings.model_copy(update={"database": settings.database.model_copy(
            update={"url": SecretStr(database)})})
    if settings.market_data.source == "alpaca":
        from cluster.app.runner import wants_simulator

        if not wants_simulator(settings):  # a real broker: one lasting intent log
            return settings
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
    state = f"{settings.state_dir}/runs/{run_id}"
    url = f"sqlite:///{state}/trading.db"
    return settings.model_copy(update={"state_dir": state, "database": settings.database.model_copy(
        update={"url": SecretStr(url)})})


def _pin_control_token(settings: Settings, root: Settings) -> Settings:
    """The control API's token stays in the root state directory, where `trading-cluster status` and
    friends read it, even when a run keeps its database and journals under var/runs/<run>/."""
    if settings.control_api.token is not None:
        return settings
    from cluster.app.api_token import load_or_create_token, token_path

    token = load_or_create_token(token_path(root.resolve(root.state_dir)))
    return settings.model_copy(update={"control_api": settings.control_api.model_copy(update={"token": token})})


def _with_bus_keys(settings: Settings) -> Settings:
    """The bus's CURVE keys for this run (pinned ones kept): made here, where the run starts, they reach
    every actor and the detached supervisor in their constructor arguments and survive their restarts."""
    from cluster.foundation.runtime.bus_curve import with_curve_keys

    return with_curve_keys(settings)


def cmd_run(args: argparse.Namespace) -> int:
    base = _settings_with(args, market_data={"speed": args.speed})
    settings = _isolate_replay_storage(base, args.database)
    if not args.no_api:
        settings = _pin_control_token(settings, base)
    settings = _with_bus_keys(settings)  # before any actor or the detached supervisor is given the settings
    if args.detach:
        from cluster.app.detached import start_detached

        return start_detached(settings, args.address)
    from cluster.app.runner import run_cluster

    summary = run_cluster(settings, args.address, live_view=not args.json, timeout_s=args.timeout,
                          serve_api=not args.no_api)
    _print_summary(summary, args.json)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from cluster.app.detached import stop_detached

    summary = stop_detached(load_settings(), args.address)
    if summary is None:
        print("no trading cluster is running there", file=sys.stderr)
        return 1
    _print_summary(summary, args.json)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    md: dict[str, Any] = {"speed": 0.0, "source": "replay", "batch_bars": args.batch}
    if args.data:
        md["files"] = tuple(args.data)
    if args.start is not None or args.all_dates:
        md["start"] = args.start
    if args.end is not None or args.all_dates:
        md["end"] = args.end
    sig: dict[str, Any] = {}
    if args.symbols:
        sig["universe"] = tuple(args.symbols.split(","))
    settings = _settings_with(args, market_data=md, signal=sig, execution={"broker": "sim"})
    if args.all_dates:
        settings = settings.model_copy(update={"market_data": settings.market_data.model_copy(
            update={"start": None, "end": None})})
    settings = _with_bus_keys(_isolate_replay_storage(settings, args.database))
    if args.cluster or args.address:
        from cluster.app.runner import run_cluster

        summary = run_cluster(settings, args.address, live_view=not args.json, timeout_s=args.timeout)
    else:  # one process, the same cores and event order, no cluster to start
        from cluster.app.backtest import run_in_process

        summary = run_in_process(settings)
    _print_summary(summary, args.json)
    return 0


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    from cluster.app.status_view import print_summary

    print_summary(summary)


def cmd_db(args: argparse.Namespace) -> int:
    from cluster.foundation.storage.factory import database_url, migrate

    settings = load_settings()
    if args.db_command == "upgrade":
        migrate(settings)
        print("database schema is at head")
    elif args.db_command == "maintain":
        from cluster.foundation.storage.db import maintain_partitions

        report = maintain_partitions(database_url(settings), settings.database.partition_months_ahead,
                                     settings.database.retention_years)
        print(report)
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from alpaca_sim.__main__ import main as sim_main

    sim_args = args.sim_args[1:] if args.sim_args[:1] == ["--"] else args.sim_args
    sim_main(sim_args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trading-cluster", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the whole cluster on the configured source (default: shipped real data)")
    run.add_argument("--address", help="Ray address ('local' starts one; 'auto' joins a running cluster)")
    run.add_argument("--speed", type=float, help="0 = as fast as possible, N = N x real time")
    run.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    run.add_argument("--json", action="store_true", help="no live view; print the summary as JSON")
    run.add_argument("--no-api", action="store_true", help="do not serve the control API")
    run.add_argument("--database", help="SQLAlchemy URL (default: a new SQLite file per replay run)")
    run.add_argument("--detach", action="store_true",
                     help="start a detached supervisor in a running Ray cluster (--address) and return; "
                          "the cluster trades on until `trading-cluster stop`")
    run.set_defaults(func=cmd_run)

    stop = sub.add_parser("stop", help="drain and stop a detached trading cluster, print its summary")
    stop.add_argument("--address", help="Ray address of the cluster (default: settings ray.address, 'auto' works)")
    stop.add_argument("--json", action="store_true", help="print the summary as JSON")
    stop.set_defaults(func=cmd_stop)

    rp = sub.add_parser("replay", help="replay data files as fast as possible: in one process, or on the Ray "
                        "cluster with --cluster/--address (same ledger either way)")
    rp.add_argument("--data", nargs="+", help="CSV files in the shipped-data format (default: config)")
    rp.add_argument("--start", help="first UTC date YYYY-MM-DD")
    rp.add_argument("--end", help="last UTC date YYYY-MM-DD")
    rp.add_argument("--all-dates", action="store_true", help="ignore the configured date range")
    rp.add_argument("--symbols", help="comma-separated universe (default: config)")
    rp.add_argument("--batch", type=int, default=None, help="events per batch")
    rp.add_argument("--cluster", action="store_true", help="run the full pipeline on a Ray cluster (actors, "
                    "ZeroMQ) instead of the cores in this process")
    rp.add_argument("--address", help="Ray address (implies --cluster)")
    rp.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds (--cluster)")
    rp.add_argument("--json", action="store_true", help="machine-readable summary")
    rp.add_argument("--database", help="SQLAlchemy URL or memory:// (default: a new SQLite file per run)")
    rp.set_defaults(func=cmd_replay)

    db = sub.add_parser("db", help="database schema and maintenance")
    db.add_argument("db_command", choices=["upgrade", "maintain"])
    db.set_defaults(func=cmd_db)

    sim = sub.add_parser("sim", help="run the Alpaca-compatible simulator (arguments after --)")
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)
    sim.set_defaults(func=cmd_sim)

    try:
        from cluster.app.cli_control import add_control_commands
    except ImportError:  # the control commands live in their own module
        pass
    else:
        add_control_commands(sub)
    from cluster.app.cli_models import add_model_commands

    add_model_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cluster.foundation.runtime.logs import configure_logging

    try:
        configure_logging(load_settings().logging, verbose=args.verbose)
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except DependencyDown as exc:
        print(f"dependency down: {exc}", file=sys.stderr)
        return 3
    except TradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the cluster was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
