"""The live path on real Ray over real sockets: Alpaca feed and broker against the paced simulator
(a child process on a free loopback port) serving one real day of the shipped data."""

from __future__ import annotations

import csv
import os
import signal
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cluster.app.runner import EndOfData, SimulatorProcess
from cluster.app.supervisor import Supervisor
from cluster.foundation.domain.settings import Settings
from cluster.foundation.runtime import ray_calls
from tests.integration.integration_support import cluster_settings

pytestmark = pytest.mark.usefixtures("ray_cluster")
DAY = "2013-10-07"
DATA = Path(__file__).resolve().parents[2] / "data"
UNIVERSE = ("SPY", "IBM", "BAC", "AIG")


def _live_settings(tmp_path: Path) -> Settings:
    big = Decimal(90_000)  # orders larger than the quoted size: they fill in parts
    return cluster_settings(
        tmp_path, market_data={"source": "alpaca", "start": DAY, "end": DAY, "live_batch_ms": 100},
        execution={"broker": "alpaca"}, signal={"universe": UNIVERSE},
        risk={"order_notional_usd": big, "max_order_notional_usd": big + 10_000, "max_position_usd": big + 10_000,
              "max_total_exposure_usd": Decimal(1_000_000), "initial_cash": Decimal(1_000_000)},
    )


def _csv_bars(day: str) -> Counter[tuple[str, int, float]]:
    from alpaca_sim.timefmt import parse_rfc3339_ns

    with (DATA / "us_equity_minute_trade_bars.csv").open(newline="") as fh:
        return Counter((r["symbol"], parse_rfc3339_ns(r["timestamp"]), float(r["close"]))
                       for r in csv.DictReader(fh) if r["timestamp"].startswith(day) and r["symbol"] in UNIVERSE)


def _drop_websockets(sim: SimulatorProcess) -> None:
    sim.admin("/admin/faults", {"drop_websockets": True})


def _run_live(settings: Settings, sim: SimulatorProcess, drop_after_s: float | None = None,
              timeout_s: float = 80.0, kill_after_s: tuple[str, float] | None = None,
              ) -> tuple[dict[str, Any], list[dict[str, Any]], Any, dict[str, Any]]:
    """One live run to the end of the simulator's data: (final stats, ledger, feed history, signal stats)."""
    sup = Supervisor(sim.configure(settings))
    sup.start()
    try:
        sup.start_feed()
        md = sup.handles["market_data"]
        end = EndOfData(lambda: int(sim.state()["remaining"]), lambda: ray_calls.call(md, "finish"))
        started = time.monotonic()
        dropped = False

        killed = False

        def tick(stats: dict[str, Any]) -> None:
            nonlocal dropped, killed
            if drop_after_s is not None and not dropped and time.monotonic() - started > drop_after_s:
                _drop_websockets(sim)
                dropped = True
            if kill_after_s is not None and not killed and time.monotonic() - started > kill_after_s[1]:
                victim = kill_after_s[0]
                os.kill(ray_calls.actor_states("trading", [victim])[victim]["pid"], signal.SIGKILL)
                killed = True
            end(stats)

        stats = sup.run_until_done(timeout_s, on_tick=tick)
        history, _ = ray_calls.call(md, "history", None, 0)
        signals = {n: ray_calls.call(h, "stats") for n, h in sup.handles.items() if n.startswith("signal-")}
        return stats, sup.ledger(), history, signals
    finally:
        sup.shutdown()


def test_live_run_when_websocket_dropped_mid_run_then_backfilled_and_signals_get_every_bar_once(tmp_path: Path) -> None:
    # Arrange
    settings = _live_settings(tmp_path)
    expected = _csv_bars(DAY)
    # Act
    with SimulatorProcess(settings, seconds=25) as sim:
        stats, _, history, signals = _run_live(settings, sim, drop_after_s=12)
    # Assert: the feed lost its socket, came back, and backfilled the gap
    feed = stats["market_data"]["alpaca"]
    assert feed["reconnects"] >= 1
    assert feed["backfilled_bars_published"] > 0
    # every CSV bar of the day was published exactly once, with its real close
    published = Counter((m.symbol, m.ts_ns, m.close) for _, items, _ in history for m in items
                        if type(m).__name__ == "Bar")
    assert published == expected
    # and the signal actors took in exactly that many bars, none ignored
    assert sum(s["core"]["bars"] for s in signals.values()) == sum(expected.values())
    assert all(s["core"]["ignored"] == 0 for s in signals.values())


def test_live_run_when_orders_exceed_quoted_size_then_partial_fills_reach_risk_positions(tmp_path: Path) -> None:
    # Arrange
    settings = _live_settings(tmp_path)
    # Act
    with SimulatorProcess(settings, seconds=20) as sim:
        stats, ledger, _, _ = _run_live(settings, sim)
    # Assert: some order lived new -> partially_filled -> filled
    lives: dict[str, list[str]] = {}
    for row in ledger:
        lives.setdefault(str(row["client_order_id"]), []).append(str(row["status"]))
    assert any(_in_order(life, ["new", "partially_filled", "filled"]) for life in lives.values()), lives
    # every fill the broker reported is booked once by the risk actor, positions = signed fills
    fills = [r for r in ledger if Decimal(str(r["last_fill_qty"])) > 0]
    risk = stats["risk"]
    assert risk["fills"] == len(fills) > 0
    net: dict[str, Decimal] = {}
    for f in fills:
        qty = Decimal(str(f["last_fill_qty"]))
        net[str(f["symbol"])] = net.get(str(f["symbol"]), Decimal(0)) + (qty if f["side"] == "buy" else -qty)
    held = {p["symbol"]: Decimal(str(p["quantity"])) for p in risk["positions"] if Decimal(str(p["quantity"]))}
    assert held == {s: q for s, q in net.items() if q}


def _in_order(life: list[str], wanted: list[str]) -> bool:
    it = iter(life)
    return all(any(status == w for status in it) for w in wanted)


def test_live_run_when_market_data_actor_killed_mid_run_then_every_bar_reaches_the_signals_exactly_once(
        tmp_path: Path) -> None:
    # Arrange
    settings = _live_settings(tmp_path)
    expected = _csv_bars(DAY)
    per_symbol = Counter(symbol for symbol, _, _ in expected.elements())
    # Act: kill -9 of the feed's process half-way through the simulated day
    with SimulatorProcess(settings, seconds=25) as sim:
        stats, _, _, signals = _run_live(settings, sim, kill_after_s=("market_data", 12))
    # Assert: Ray restarted it, the run reached the end of the data, and the signal actors took in
    # every bar the simulator released exactly once
    assert stats["market_data"]["restarted"] is True
    assert stats["risk"]["done"] is True
    received: Counter[str] = Counter()
    for s in signals.values():
        received.update(s["bars_by_symbol"])
    assert received == per_symbol
    assert all(s["core"]["ignored"] == 0 for s in signals.values())
