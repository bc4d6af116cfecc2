"""Runs every benchmark and writes BENCHMARKS.md (each figure beside its baseline from the same run).

Run: .venv/bin/python bench/run_all.py --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _json(script: str, *args: str, timeout: float = 900) -> dict:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([PY, str(ROOT / "bench" / script), *args, "--json"], capture_output=True, text=True,
                         timeout=timeout, cwd=ROOT, env=env, check=True)
    text = out.stdout
    return json.loads(text[text.index("{"):])


def _text(script: str, *args: str) -> str:
    out = subprocess.run([PY, str(ROOT / "bench" / script), *args], capture_output=True, text=True, timeout=600,
                         cwd=ROOT, check=True)
    return out.stdout.strip()


def render(replay: dict, feed: dict, persistence: dict | None, inference: dict, risk_text: str) -> str:
    bt = replay["backtrader"]
    pl = replay["pipeline"]
    st = replay["stages"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured on {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores, Python "
        f"{platform.python_version()}) by `make bench` (`bench/run_all.py`). Every ratio compares figures taken "
        "in the same run; absolute numbers vary with the machine and its load.",
        "",
        "## Replay: full pipeline vs backtrader (`bench/replay.py`)",
        "",
        f"Data: `data/{replay['bars_file']}`, all {bt['bars']:,} real minute bars ({', '.join(replay['symbols'])}).",
        "Ours runs the whole cluster on a local Ray: feed -> signal actors (streaming features + rule baseline) ->",
        "risk -> execution with the simulated broker, over ZeroMQ, timed from the first batch published to the",
        "last batch settled. backtrader runs an SMA(10/30) cross on the same bars in the same process run.",
        "",
        "| | bars/s | wall s |",
        "|---|---:|---:|",
        f"| backtrader SMA cross | {bt['bars_per_s']:,.0f} | {bt['wall_seconds']:.2f} |",
        f"| trading-cluster pipeline (median of {len(pl['runs'])}) | {pl['median_bars_per_s']:,.0f} | "
        f"{pl['best']['wall_seconds']:.2f} (best) |",
        f"| **ratio** | **{replay['ratio_vs_backtrader']:.1f}x** | |",
        "",
        f"Runs were deterministic (same ledger digest every run): {pl['deterministic']}. Orders per run: "
        f"{pl['best']['orders']}. Ray start-up ({pl['ray_start_seconds']} s) and actor creation "
        f"({pl['best']['actor_setup_seconds']} s) are not in the bars/s figure.",
        "",
        "Per-stage latency of the pure cores (same run):",
        "",
        "| stage | p50 us | p99 us | target |",
        "|---|---:|---:|---|",
        f"| feature update (RSI, MACD, Bollinger, returns, vol, volume z) per bar | {st['feature_update']['p50_us']:.2f} | "
        f"{st['feature_update']['p99_us']:.2f} | |",
        f"| risk check, full book | {st['risk_check']['p50_us']:.2f} | {st['risk_check']['p99_us']:.2f} | < 5 us |",
        f"| book update (quote) | {st['book_update']['p50_us']:.2f} | {st['book_update']['p99_us']:.2f} | < 10 us |",
        "",
        "## Risk check (`bench/risk.py`)",
        "",
        "```",
        risk_text,
        "```",
        "",
        "## Market-data path (`bench/feed.py`)",
        "",
        f"Real shipped bars and quotes as Alpaca WebSocket frames; goal {feed.get('goal_msg_per_s', 200000):,} msg/s.",
        "",
        "| encoding | stage | msg/s |",
        "|---|---|---:|",
    ]
    lines += [f"| {r['encoding']} | {r['stage']} | {r['msg_per_s']:,.0f} |" for r in feed["results"]]
    lines += ["", "Stages are cumulative: parse; parse + book; parse + book + publish on the ZeroMQ bus.", ""]
    lines += ["## Persistence (`bench/persistence.py`)", ""]
    if persistence:
        lines += [
            "| backend | rows/s | enqueue p50 / p99 idle (us) | enqueue p50 / p99 writer busy (us) |",
            "|---|---:|---:|---:|",
            f"| {persistence['backend']} | {persistence['rows_per_s']:,} | {persistence['enqueue_idle_p50_us']:.1f} / "
            f"{persistence['enqueue_idle_p99_us']:.1f} | {persistence['enqueue_busy_p50_us']:.1f} / "
            f"{persistence['enqueue_busy_p99_us']:.1f} |",
            "",
            "Hot-path risk check (RiskCore.check on real prices) with the writer idle vs draining the backlog:",
            "",
            "| writer | check p50 us | check p99 us |",
            "|---|---:|---:|",
            f"| idle | {persistence['risk_check_idle_p50_us']:.2f} | {persistence['risk_check_idle_p99_us']:.2f} |",
            f"| busy | {persistence['risk_check_busy_p50_us']:.2f} | {persistence['risk_check_busy_p99_us']:.2f} |",
            "",
            "Goal >= 20,000 rows/s (the seed plans 10,000). The hot path only enqueues; the writer uses COPY into a",
            "temporary table and one INSERT ... ON CONFLICT per batch (plain executemany reached about 9,500 rows/s).",
            "",
        ]
    else:
        lines += ["PostgreSQL was not reachable in this run.", ""]
    lines += ["## Model inference (`bench/inference.py`)", "", "| batch | rows/s | us per call |", "|---:|---:|---:|"]
    lines += [f"| {r['batch']} | {r['rows_per_s']:,.0f} | {r['us_per_call']:.0f} |" for r in inference["predict"]]
    lines += ["", "SignalCore with the model, per event (feature update + its batch's inference):", "",
              "| group | p50 us | p99 us |", "|---|---:|---:|"]
    lines += [f"| {g['group']} | {g['event']['p50_us']:.0f} | {g['event']['p99_us']:.0f} |"
              for g in inference["signal_core"]]
    lines += ["", "Seed budget 200 ms per event; goal <= 2 ms p99.", "",
              "Training (`python -m models.train`) on the shipped minute bars takes about 3 s on one core (16k rows,",
              "3 walk-forward splits). Ray Data / Ray Train's XGBoost trainer would only add start-up cost at that",
              "size, so training runs as a single-process Ray Job; spreading it over workers is for data sets that",
              "do not fit one node, which this repository does not ship.", ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--write", default="BENCHMARKS.md")
    args = p.parse_args()
    print("replay ...", file=sys.stderr)
    replay = _json("replay.py", "--repeat", "3")
    print("feed ...", file=sys.stderr)
    feed = _json("feed.py", "--repeat", "3")
    print("persistence ...", file=sys.stderr)
    try:
        persistence = _json("persistence.py", "--rows", "100000")
    except subprocess.CalledProcessError:
        persistence = None
    print("inference ...", file=sys.stderr)
    inference = _json("inference.py")
    risk_text = _text("risk.py", "50000", "0.02")
    (ROOT / args.write).write_text(render(replay, feed, persistence, inference, risk_text) + "\n")
    print(f"wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
