"""Runs a real local cluster over one shipped trading day, paced, for the observability tests.

Started as a subprocess (the tests need the dashboard and Ray's metrics agent, which the session
Ray fixture does not start). Prints one JSON line with the ports once the actors are ready, replays
the day, then keeps the cluster up (gauges stay exported) until its stdin closes or it gets SIGTERM,
and then shuts the cluster down in order.

    python tests/observability/cluster_runner.py --state-dir DIR --dashboard-port N [--speed X]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pydantic import SecretStr  # noqa: E402

from cluster.app.supervisor import Supervisor  # noqa: E402
from cluster.foundation.domain.settings import Settings, load_settings  # noqa: E402
from cluster.foundation.runtime import ray_calls  # noqa: E402

REPLAY_DAY = "2013-10-07"  # one full extended-hours day of SPY, IBM, BAC, AIG minute bars in data/


def runner_settings(state_dir: Path, dashboard_port: int, speed: float) -> Settings:
    base = load_settings()
    return base.model_copy(update={
        "state_dir": str(state_dir),
        "ray": base.ray.model_copy(update={
            "address": "local", "include_dashboard": dashboard_port > 0, "dashboard_port": dashboard_port or 8265,
            "auth_mode": "disabled", "num_cpus": 4, "metrics_report_interval_ms": 1000,
        }),
        "database": base.database.model_copy(update={"url": SecretStr(f"sqlite:///{state_dir}/trading.db")}),
        "market_data": base.market_data.model_copy(update={
            "source": "replay", "start": REPLAY_DAY, "end": REPLAY_DAY, "speed": speed,
            "files": ("data/us_equity_minute_trade_bars.csv", "data/us_equity_minute_quote_bars.csv"),
        }),
        "signal": base.signal.model_copy(update={"strategy": "rule_baseline", "universe": ("SPY", "IBM", "BAC", "AIG"),
                                                 "group_size": 2}),
        "execution": base.execution.model_copy(update={"broker": "sim"}),
    })


def _emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--dashboard-port", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1500.0)
    args = parser.parse_args()
    stop = {"requested": False}

    def _on_term(signum: int, frame: object) -> None:
        stop["requested"] = True

    def _wait_for_stdin_eof() -> None:
        sys.stdin.read()
        stop["requested"] = True

    threading.Thread(target=_wait_for_stdin_eof, daemon=True).start()
    os.environ["RAY_AUTH_MODE"] = "disabled"
    settings = runner_settings(args.state_dir, args.dashboard_port, args.speed)
    sup = Supervisor(settings)
    try:
        info = sup.start()
        signal.signal(signal.SIGTERM, _on_term)  # after ray.init, which installs its own handler
        sup.start_feed()
        _emit({"event": "ready", "metrics_export_port": ray_calls.metrics_export_port(),
               "dashboard_url": info.dashboard_url, "namespace": info.namespace, "pid": os.getpid()})
        done = False
        while not stop["requested"]:
            if not done:
                stats = sup.stats()
                if stats.get("risk", {}).get("done"):
                    done = True
                    _emit({"event": "done", "orders": stats["risk"].get("orders_sent", 0)})
                else:
                    sup.reconcile_once()
            time.sleep(0.5)
    finally:
        sup.shutdown(drain_s=5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
