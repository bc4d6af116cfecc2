"""Inference benchmark: XgbModel.predict rows/s per batch size, and SignalCore per-event latency.

    .venv/bin/python bench/inference.py [--json] [--model PATH] [--seconds 0.5]

The model is trained on the shipped minute bars with the default TrainConfig (or loaded from
--model). Predict rows are real feature rows. SignalCore replays the real 2013 bars and quotes of
each symbol group (settings.signal.universe cut into group_size groups); one batch per minute,
as the live feed delivers it. An event's latency = its batch's on_items (the features of every
symbol of the group, advanced together, and the rows queued) + the batch's end_batch (the one
predict call and target updates): the time from the batch's arrival until its signals are decided.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from actors.signal.core import SignalCore  # noqa: E402
from cluster.foundation.domain.settings import load_settings  # noqa: E402
from cluster.foundation.domain.wire import Bar, Quote  # noqa: E402
from cluster.foundation.runtime.grouping import choose_groups  # noqa: E402
from cluster.foundation.runtime.placement import SIGNALS_SLOTS_PER_NODE  # noqa: E402
from cluster.foundation.storage.market_files import open_source  # noqa: E402
from models.dataset import MINUTE_FILES, build_dataset, load_segments, resolve_paths  # noqa: E402
from models.train import TrainConfig, train_walk_forward  # noqa: E402
from models.xgb_model import XgbModel  # noqa: E402

BATCH_SIZES = (1, 10, 100, 1000)


def _model(path: str | None) -> tuple[XgbModel, np.ndarray]:
    dataset = build_dataset(load_segments(resolve_paths(["minute"])), TrainConfig().horizon)
    if path:
        return XgbModel.from_file(path, Path(path).stem), dataset.features
    result = train_walk_forward(dataset, TrainConfig())
    return XgbModel(result.booster, "bench-xgb"), dataset.features


def predict_throughput(model: XgbModel, rows: np.ndarray, seconds: float) -> list[dict[str, float]]:
    results = []
    for size in BATCH_SIZES:
        batch = np.ascontiguousarray(rows[:size])
        model.predict(batch)  # warm
        calls = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(10):
                model.predict(batch)
            calls += 10
        results.append({"batch": size, "rows_per_s": calls * size / elapsed, "us_per_call": 1e6 * elapsed / calls})
    return results


def _percentiles(values_ns: list[int]) -> dict[str, float]:
    array = np.asarray(values_ns, dtype=np.float64) / 1_000.0
    return {"p50_us": float(np.percentile(array, 50)), "p99_us": float(np.percentile(array, 99)), "n": len(values_ns)}


def signal_core_latency(model: XgbModel, symbols: tuple[str, ...]) -> dict[str, Any]:
    events = list(open_source(resolve_paths(list(MINUTE_FILES)), start="2013-10-04", end="2013-10-11", symbols=symbols))
    core = SignalCore("bench", symbols, model, allow_short=False)
    features_ns: list[int] = []
    end_batch_ns: list[int] = []
    event_ns: list[int] = []
    bars = 0
    clock = time.perf_counter_ns
    minutes: list[list[Bar | Quote]] = []
    for event in events:
        if not isinstance(event, Bar | Quote):
            continue
        if not minutes or event.ts_ns != minutes[-1][-1].ts_ns:
            minutes.append([])
        minutes[-1].append(event)
    for batch, items in enumerate(minutes):
        started = clock()
        core.on_items(items, batch)  # the batch's features, every symbol of the group at once
        fed = clock()
        core.end_batch(batch, final=batch == len(minutes) - 1)
        done = clock()
        features_ns.append(fed - started)
        end_batch_ns.append(done - fed)
        n_bars = sum(1 for item in items if isinstance(item, Bar))
        bars += n_bars
        event_ns.extend([done - started] * n_bars)
    return {
        "group": ",".join(symbols),
        "bars": bars,
        "batches": len(end_batch_ns),
        "features": _percentiles(features_ns),
        "end_batch": _percentiles(end_batch_ns),
        "event": _percentiles(event_ns),
        "rows_predicted": core.stats()["rows_predicted"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", help="XGBoost artifact (.ubj/.json) instead of training one")
    parser.add_argument("--seconds", type=float, default=0.5, help="time per batch size")
    args = parser.parse_args(argv)
    settings = load_settings().signal
    model, rows = _model(args.model)
    universe = settings.universe
    size = choose_groups(len(universe), settings.group_size, SIGNALS_SLOTS_PER_NODE).group_size
    groups = [tuple(universe[i:i + size]) for i in range(0, len(universe), size)]
    predict = predict_throughput(model, rows, args.seconds)
    latency = [signal_core_latency(model, group) for group in groups]
    report = {"model": model.version, "predict": predict, "signal_core": latency}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"XgbModel.predict ({model.version}, {model.booster.num_boosted_rounds()} trees)")
    print(f"{'batch':>6} {'rows/s':>12} {'us/call':>10}")
    for row in predict:
        print(f"{row['batch']:>6} {row['rows_per_s']:>12,.0f} {row['us_per_call']:>10.1f}")
    print("\nSignalCore per event (bar -> decided signal), one batch per minute")
    print(f"{'group':>10} {'bars':>6} {'on_items p50/p99 us':>20} {'end_batch p50/p99 us':>21} {'event p50/p99 us':>17}")
    for g in latency:
        print(f"{g['group']:>10} {g['bars']:>6} {g['features']['p50_us']:>9.1f}/{g['features']['p99_us']:<10.1f}"
              f" {g['end_batch']['p50_us']:>10.1f}/{g['end_batch']['p99_us']:<10.1f}"
              f" {g['event']['p50_us']:>8.1f}/{g['event']['p99_us']:<8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
