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


def render(replay: dict, feed: dict, persistence: dict | None, inference: dict, risk_text: str,
           scale: dict | None = None, live: dict | None = None, load: tuple | None = None) -> str:
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
    ]
    if load is not None:
        lines += [
            f"**Load.** The machine is shared: the 1/5/15-minute load average was {_load(load[0])} when the run "
            f"began and {_load(load[1])} when it ended, on {os.cpu_count()} cores, so every process here competed "
            "with others for the CPU. Wall times are inflated by that load; the ratios compare runs that shared it.",
            "",
        ]
    if scale is not None or live is not None:
        lines += render_goals(scale, live)
    if scale is not None:
        lines += render_scale(scale)
    if live is not None:
        lines += render_live(live)
    lines += [
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
        f"| same pipeline in lockstep (`risk.pipeline_depth = 1`, median of {len(pl['runs'])}) | "
        f"{pl['lockstep']['median_bars_per_s']:,.0f} | |",
        f"| ratio, lockstep | {pl['lockstep']['median_bars_per_s'] / bt['bars_per_s']:.1f}x | |",
        f"| **pipelining (depth 2) vs lockstep** | **{pl['median_bars_per_s'] / pl['lockstep']['median_bars_per_s']:.2f}x** | |",
        "",
        "Pipelined and lockstep runs alternate in the same Ray session. Runs were deterministic (same ledger digest "
        f"every run at each depth): {pl['deterministic']} (pipelined), {pl['lockstep']['deterministic']} (lockstep). "
        "Orders per run: "
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


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def _row(name: str, r: dict, bt: dict) -> str:
    return (f"| {name} | {r['wall_seconds']:.2f} | {bt['wall_seconds'] / r['wall_seconds']:.2f}x | "
            f"{r['bars_per_s']:,.0f} | {r['bars_per_s'] / bt['bars_per_s']:.1f}x | {r['peak_rss_mb']:,.0f} "
            f"({r['processes_at_peak']}) | {r['pss_mb_at_rss_peak']:,.0f} |")


def _scale_table(run: dict) -> list[str]:
    bt = run["backtrader"]
    lines = ["| runner | command wall s | command speed vs backtrader | bars/s in the pipeline | bars/s vs "
             "backtrader | peak RSS MB (processes) | PSS MB at that peak |", "|---|---:|---:|---:|---:|---:|---:|",
             _row("`trading-cluster replay` (one process, default)", run["in_process"], bt)]
    if "cluster" in run:
        lines.append(_row("`trading-cluster replay --cluster` (local Ray, actors, ZeroMQ)", run["cluster"], bt))
    lines.append(f"| backtrader script (SMA cross) | {bt['wall_seconds']:.2f} | 1.00x | {bt['bars_per_s']:,.0f} "
                 f"(`cerebro.run()` {bt['run_seconds']:.2f} s) | 1.0x | {bt['peak_rss_mb']:,.0f} "
                 f"({bt['processes_at_peak']}) | {bt['pss_mb_at_rss_peak']:,.0f} |")
    ours = run["in_process"]
    lines += ["", f"{ours['bars']:,} bars in {ours['batches']} batches; {ours['orders']} orders, {ours['fills']} "
              f"fills; signal groups chosen by default: {ours['group_plan']['groups']} of up to "
              f"{ours['group_plan']['largest_group']} symbols."]
    if "same_ledger" in run:
        lines[-1] += f" Ledger digests equal across every in-process and cluster run: **{run['same_ledger']}**."
    runs = "; ".join(f"{label} {', '.join(f'{v:,.0f}' for v in run[key]['runs_bars_per_s'])}"
                     for key, label in (("in_process", "one process"), ("cluster", "cluster"), ("backtrader", "backtrader"))
                     if key in run)
    lines[-1] += f" Each row is the median run by bars/s; every run's bars/s: {runs}."
    if "cluster" in run and run["cluster"].get("cpu_s"):
        cpu = run["cluster"]["cpu_s"]
        lines[-1] += (" CPU seconds each actor's process used while running in that cluster run (all its threads; the "
                      "feed's include reading the file): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
                      + f" (sum {sum(cpu.values()):.2f}; the one-process replay: "
                      + f"{run['in_process'].get('cpu_s', {}).get('replay', 0):.2f}).")
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render_goals(scale: dict | None, live: dict | None) -> list[str]:
    """The issue's goals beside this run's figures, plainly."""
    lines = ["## Goals of the scale issue vs this run", "", "| goal | this run | |", "|---|---|---|"]
    if scale is not None:
        syn, shipped = scale["synthetic"], scale["shipped"]
        for name, label in (("in_process", "one process"), ("cluster", "Ray cluster")):
            if name in syn:
                r = syn[name]["bars_per_s_vs_backtrader"]
                lines.append(f"| >= 10x backtrader's bars/s on the 1,000-symbol day ({label}) | {r:.1f}x | "
                             f"{_met(r >= 10)} |")
        ours, bt = shipped["in_process"]["wall_seconds"], shipped["backtrader"]["wall_seconds"]
        lines.append(f"| `trading-cluster replay` on the shipped bars faster than backtrader's script, whole command | "
                     f"{ours:.2f} s vs {bt:.2f} s | {_met(ours < bt)} |")
        if "cluster" in syn:
            rss = syn["cluster"].get("max_peak_rss_mb", syn["cluster"]["peak_rss_mb"])  # the highest of the runs
            lines.append(f"| whole local cluster <= 1.5 GB RSS at 1,000 symbols (replay) | {rss:,.0f} MB RSS "
                         f"({syn['cluster']['pss_mb_at_rss_peak']:,.0f} MB PSS) | {_met(rss <= 1536)} |")
    if live is not None:
        rss = live["peak_rss_mb_all_processes"]
        dash = "with the dashboard" if live["include_dashboard"] else "no dashboard"
        p99 = live["histograms"]["trading_tick_to_order_seconds"]["p99_ms"]
        rate = live["achieved_events_per_s"] or 0
        lines += [
            f"| live: 10,000 events/s over 1,000 symbols for >= 60 s | {rate:,.0f} events/s for "
            f"{live['publish_seconds']:.0f} s | {_met(rate >= 0.97 * live['target_events_per_s'] and live['publish_seconds'] >= 60)} |",
            f"| live: p99 tick-to-order <= 5 ms | {'n/a' if p99 is None else f'{p99:.1f} ms'} | "
            f"{_met(p99 is not None and p99 <= 5)} |",
            f"| whole local cluster <= 1.5 GB RSS at 1,000 symbols (live, {dash}) | {rss:,.0f} MB RSS "
            f"({live['pss_mb_at_rss_peak']:,.0f} MB PSS) | {_met(rss <= 1536)} |",
        ]
    lines.append("")
    return lines


def render_scale(scale: dict) -> list[str]:
    syn, shipped, prof = scale["synthetic"], scale["shipped"], scale["profile"]
    lines = [
        "## Replay at scale and whole-command wall time (`bench/scale.py`)",
        "",
        f"A seeded random walk of {scale['symbols']:,} symbols x {scale['bars_per_symbol']} minute bars (one "
        "regular session), written by the benchmark as a CSV in the shipped format, then replayed by each runner "
        "as a whole command, timed from outside (interpreter start, imports, loading, replay, shutdown) with the "
        "default database (a new SQLite file per run). Bars/s in the pipeline: first batch to last settlement, "
        "from the command's summary; backtrader's bars/s is its `cerebro.run()`. Peak RSS: the highest sum of "
        "VmRSS over the command's whole process tree (for `--cluster`: driver, GCS, raylet, dashboard-less "
        "agents and every actor worker), sampled every 0.2 s; shared pages count once per process. PSS at that "
        "peak counts every page once (bench/proc_memory.py).",
        "",
        *_scale_table(syn),
        "",
        f"The shipped bars (`data/us_equity_minute_trade_bars.csv`, {', '.join(scale['shipped_symbols'])}, all "
        "dates), same three commands:",
        "",
        *_scale_table(shipped),
        "",
        f"Where a batch's time goes in the one-process replay of the {scale['symbols']:,}-symbol day (cProfile, "
        f"{prof['events']:,} events in {prof['batches']} batches, {prof['profiled_seconds']:.1f} s = "
        f"{prof['ms_per_batch_profiled']:.1f} ms per batch under the profiler, which roughly doubles Python call "
        "costs; shares of that whole run; the database writer thread's own work is not in the profile):",
        "",
        "| stage | s (profiled) | share |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {v['seconds']:.2f} | {100 * v['share']:.0f}% |" for name, v in prof["stages"].items()]
    lines += ["", "Top functions by own time:", "", "| function | calls | own s | cumulative s |", "|---|---:|---:|---:|"]
    lines += [f"| `{r['function']}` | {r['calls']:,} | {r['tottime_s']:.2f} | {r['cumtime_s']:.2f} |"
              for r in prof["top_tottime"][:12]]
    lines.append("")
    return lines


def render_live(live: dict) -> list[str]:
    h = live["histograms"]
    rows = [("tick-to-decision, every batch (`trading_tick_to_decision_seconds`)", h["trading_tick_to_decision_seconds"]),
            ("tick-to-order, batches with orders (`trading_tick_to_order_seconds`)", h["trading_tick_to_order_seconds"]),
            ("order ack, sim broker (`trading_order_ack_seconds`)", h["trading_order_ack_seconds"]),
            ("risk check per batch (`trading_risk_check_seconds`)", h["trading_risk_check_seconds"]),
            ("feature update per batch (`trading_feature_update_seconds`)", h["trading_feature_update_seconds"])]
    strategy = live["strategy"]
    orders_how = ("strategy and risk limits as configured" if not strategy["busy"] else
                  f"RSI band widened to {strategy['signal']['rsi_buy_below']:.0f}/{strategy['signal']['rsi_sell_above']:.0f} "
                  "and the position-count, exposure and order-rate limits lifted, so that many batches carry orders")
    top = ", ".join(f"{p['role'].removeprefix('ray worker: ')} {p['rss_mb']:.0f}/{p['pss_mb']:.0f}"
                    for p in live["memory_by_process_at_rss_peak"])
    lines = [
        "## Live latency at 10,000 events/s over 1,000 symbols (`bench/live_latency.py`)",
        "",
        f"Source: {live['source']}: {live['symbols']:,} symbols, target {live['target_events_per_s']:,.0f} events/s "
        f"for {live['target_seconds']:.0f} s, through the cluster's actors on a local Ray (signal groups: "
        f"{live['group_plan']['groups']} of up to {live['group_plan']['largest_group']}), SQLite, simulated broker, "
        f"{'with' if live['include_dashboard'] else 'without'} Ray's dashboard. "
        f"The feed published {live['events']:,} events in {live['publish_seconds']:.1f} s = "
        f"**{live['achieved_events_per_s']:,.0f} events/s** achieved; the last batch was settled "
        f"{live['feed_to_settled_seconds']:.1f} s after the first was published. {live['orders']} orders ({orders_how}). "
        f"Whole local cluster (driver + Ray processes + actors, {live['processes_at_peak']} processes) at its peak: "
        f"**{live['peak_rss_mb_all_processes']:,.0f} MB RSS**, {live['pss_mb_at_rss_peak']:,.0f} MB PSS (shared pages "
        f"counted once; peak PSS {live['peak_pss_mb_all_processes']:,.0f} MB). By process, RSS/PSS MB: {top}.",
        "",
        "Percentiles from the histograms the actors export (Ray's Prometheus export, interpolated inside the "
        "buckets, which are 1 ms wide up to 5 ms):",
        "",
        "| histogram | samples | p50 ms | p99 ms | p99.9 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        cells = [("" if r.get(k) is None else f"{r[k]:.2f}") for k in ("p50_ms", "p99_ms", "p99.9_ms")]
        count = "" if r.get("count") is None else f"{r['count']:,}"
        lines.append(f"| {name} | {count} | {' | '.join(cells)} |")
    lines += [
        "",
        "What bounds it: tick-to-decision starts when the risk actor has a batch's market data and ends when it "
        "has sent that batch's order batch, so it is the wait for every signal group (lockstep: the slowest group "
        "decides) plus the risk decision. Tick-to-order starts at the same point (the order batch carries it) and ends when "
        "the orders are submitted: tick-to-decision, the bus hop, and any wait for the execution loop, which "
        "commits the order batch's intents durably in one transaction before sending them (order ack, with the simulated broker almost all "
        f"SQLite with synchronous=FULL: p50 {h['trading_order_ack_seconds']['p50_ms'] or 0:.1f} ms here). Before "
        f"that, an event waits in the feed until its batch is cut: {live['batch_events']} events per batch = "
        f"{live['batch_interval_ms_at_target']} ms at the target rate, which no histogram includes. All of it "
        f"shares {os.cpu_count()} cores with the rest of the cluster.",
        "",
    ]
    return lines


def render_curve(curve: dict) -> str:
    plain, cur = curve["plain"], curve["curve"]
    return "\n".join([
        "## Bus: plain against CURVE (`bench/bus_curve.py`)",
        "",
        f"One market-data envelope of 256 bars ({curve['envelope_bytes']:,} bytes), XPUB -> SUB over loopback TCP "
        "through `cluster.foundation.runtime.bus`, plain and with CURVE forced (`bus.curve = \"always\"`; off loopback the "
        "bus is always CURVE), in the same run.",
        "",
        "| | sent -> decoded median us | p99 us | batches/s back to back |",
        "|---|---:|---:|---:|",
        f"| plain | {plain['median_us']:.0f} | {plain['p99_us']:.0f} | {plain['batches_per_s']:,.0f} |",
        f"| CURVE | {cur['median_us']:.0f} | {cur['p99_us']:.0f} | {cur['batches_per_s']:,.0f} |",
        f"| **CURVE / plain** | **{cur['median_us'] / plain['median_us']:.2f}x** | | "
        f"**{cur['batches_per_s'] / plain['batches_per_s']:.2f}x** |",
        "",
    ])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--write", default="BENCHMARKS.md")
    args = p.parse_args()
    load_before = os.getloadavg()
    print("scale (1,000 symbols; shipped bars; in-process, cluster, backtrader) ...", file=sys.stderr)
    scale = _json("scale.py", timeout=3600)
    print("live latency (1,000 symbols at 10,000 events/s for 61 s) ...", file=sys.stderr)
    try:  # 61 s of events: from the first event to the last the feed then publishes for at least the goal's 60 s
        live = _json("live_latency.py", "--seconds", "61", timeout=1800)
    except subprocess.CalledProcessError as exc:
        print(f"live latency failed: {exc.stderr[-2000:] if exc.stderr else exc}", file=sys.stderr)
        live = None
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
    print("bus: plain vs CURVE ...", file=sys.stderr)
    curve = _json("bus_curve.py")
    print("recovery (market data, a signals node, the core node; needs root for network namespaces) ...",
          file=sys.stderr)
    from recovery import run as run_recovery
    from recovery import section as recovery_section

    recovery = run_recovery()
    load = (load_before, os.getloadavg())
    text = render(replay, feed, persistence, inference, risk_text, scale, live, load) + "\n"
    (ROOT / args.write).write_text(text + "\n" + render_curve(curve) + "\n" + recovery_section(recovery))
    print(f"wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
