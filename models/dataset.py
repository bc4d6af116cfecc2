"""Training rows: features from compute_features per symbol segment, labels from labels.py.

Bars come through cluster.foundation.storage.market_files, so training sees the same messages, in the same
merged order, as the live path: a quote stamped at a bar's timestamp is known at that bar (the
merged stream puts it first), and the spread feature uses the latest quote, as in serving.

A symbol's bars are cut into *segments* where consecutive bars are more than `max_gap_days`
apart (the minute file holds SPY of 2013 and of 2023), and where one bar's close differs from
the previous by more than `max_jump` in log terms: the shipped prices are raw, and a split
(AAPL 7-for-1 on 2014-06-09, ln = -1.94) would otherwise become a feature, a label and a
fortune in the replay. Indicators never bridge such a hole.
Rows are dropped for two counted reasons only: warm-up (SignalCore never scores them) and a
label window that passes the end of the segment.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from cluster.foundation.domain.errors import BadInput
from cluster.foundation.domain.settings import REPO_ROOT
from cluster.foundation.domain.wire import Bar, Quote, ns_to_iso
from cluster.foundation.storage.csv_time import NS_PER_DAY
from cluster.foundation.storage.market_files import open_source
from models.features.batch import compute_features
from models.features.spec import FEATURE_NAMES, PARAMS, FeatureParams
from models.labels import forward_log_return, up_labels

MINUTE_FILES: tuple[str, ...] = ("data/us_equity_minute_trade_bars.csv", "data/us_equity_minute_quote_bars.csv")
DAILY_FILES: tuple[str, ...] = ("data/us_equity_daily_bars_1998-2021.csv",)
PRESETS: dict[str, tuple[str, ...]] = {"minute": MINUTE_FILES, "daily": DAILY_FILES}
BAR_COLUMNS = ("ts_ns", "open", "high", "low", "close", "volume", "bid", "ask")


@dataclass(frozen=True, slots=True)
class Segment:
    """Contiguous, time-ordered bars of one symbol, with the quote known at each bar (NaN if none)."""

    symbol: str
    bars: pd.DataFrame  # BAR_COLUMNS


@dataclass(frozen=True, slots=True)
class DatasetReport:
    bars: int
    rows: int
    dropped_warmup: int
    dropped_past_end: int
    segments: int


@dataclass(frozen=True, slots=True)
class Dataset:
    """Rows sorted by (ts_ns, symbol). forward_return is the labelled h-bar log return;
    next_return the 1-bar log return t -> t+1 (for the replay); label_end_ts_ns the time of bar t+h."""

    features: NDArray[Any]
    labels: NDArray[Any]
    forward_return: NDArray[Any]
    next_return: NDArray[Any]
    ts_ns: NDArray[Any]
    label_end_ts_ns: NDArray[Any]
    symbols: NDArray[Any]
    segment: NDArray[Any]
    bar_index: NDArray[Any]
    horizon: int
    threshold: float
    report: DatasetReport

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def data_range(self) -> str:
        if len(self) == 0:
            return ""
        return f"{ns_to_iso(int(self.ts_ns.min()))[:19]}..{ns_to_iso(int(self.label_end_ts_ns.max()))[:19]}"


def resolve_paths(data: Sequence[str]) -> list[Path]:
    """'minute' / 'daily' presets or file paths (relative to the repository root)."""
    paths: list[Path] = []
    for item in data:
        for name in PRESETS.get(item, (item,)):
            path = Path(name) if Path(name).is_absolute() else REPO_ROOT / name
            if not path.exists():
                raise BadInput(f"training data file {path} does not exist")
            paths.append(path)
    return paths


def load_segments(
    paths: Sequence[str | Path],
    start: str | None = None,
    end: str | None = None,
    symbols: Collection[str] | None = None,
    max_gap_days: float = 10.0,
    max_jump: float = 0.3,
) -> list[Segment]:
    """Bars of every symbol in `paths` (trade bars, plus quote bars if given), cut at long gaps."""
    columns: dict[str, list[list[float]]] = {}
    last_quote: dict[str, tuple[float, float]] = {}
    for message in open_source(paths, start=start, end=end, symbols=symbols):
        if isinstance(message, Quote):
            last_quote[message.symbol] = (message.bid, message.ask)
        elif isinstance(message, Bar):
            bid, ask = last_quote.get(message.symbol, (np.nan, np.nan))
            row = [float(message.ts_ns), message.open, message.high, message.low, message.close, message.volume, bid, ask]
            columns.setdefault(message.symbol, []).append(row)
    max_gap_ns = int(max_gap_days * NS_PER_DAY)
    segments: list[Segment] = []
    for symbol in sorted(columns):
        frame = pd.DataFrame(columns[symbol], columns=list(BAR_COLUMNS))
        frame["ts_ns"] = frame["ts_ns"].astype(np.int64)
        gap = np.diff(frame["ts_ns"].to_numpy()) > max_gap_ns
        jump = np.abs(np.diff(np.log(frame["close"].to_numpy()))) > max_jump
        cuts = np.flatnonzero(gap | jump) + 1
        for part in np.split(np.arange(len(frame)), cuts):
            segments.append(Segment(symbol, frame.iloc[part].reset_index(drop=True)))
    return segments


@dataclass(frozen=True, slots=True)
class SegmentRows:
    """Every bar of one segment with its features and label inputs (nothing dropped yet)."""

    features: NDArray[Any]
    forward_return: NDArray[Any]
    next_return: NDArray[Any]
    label_end_ts_ns: NDArray[Any]


def segment_rows(bars: pd.DataFrame, horizon: int, params: FeatureParams = PARAMS) -> SegmentRows:
    """Features use bars <= t; the label inputs use bars t+1..t+h only."""
    features = compute_features(bars, params).to_numpy(dtype=np.float64)
    close = bars["close"].to_numpy(dtype=np.float64)
    ts = bars["ts_ns"].to_numpy(dtype=np.int64)
    label_end = np.full(ts.shape[0], -1, dtype=np.int64)
    if ts.shape[0] > horizon:
        label_end[:-horizon] = ts[horizon:]
    return SegmentRows(features, forward_log_return(close, horizon), forward_log_return(close, 1), label_end)


def build_dataset(
    segments: Sequence[Segment], horizon: int, threshold: float = 0.0, params: FeatureParams = PARAMS
) -> Dataset:
    warmup = params.warmup_bars()
    parts: dict[str, list[NDArray[Any]]] = {key: [] for key in ("x", "fwd", "nxt", "ts", "end", "sym", "seg", "idx")}
    bars = dropped_warmup = dropped_end = 0
    for number, segment in enumerate(segments):
        n = len(segment.bars)
        bars += n
        rows = segment_rows(segment.bars, horizon, params)
        index = np.arange(n)
        ready = index >= warmup - 1  # StreamingFeatures.ready after `warmup` bars
        labelled = ~np.isnan(rows.forward_return)
        dropped_warmup += int((~ready).sum())
        dropped_end += int((ready & ~labelled).sum())
        keep = ready & labelled
        parts["x"].append(rows.features[keep])
        parts["fwd"].append(rows.forward_return[keep])
        parts["nxt"].append(rows.next_return[keep])
        parts["ts"].append(segment.bars["ts_ns"].to_numpy(dtype=np.int64)[keep])
        parts["end"].append(rows.label_end_ts_ns[keep])
        parts["sym"].append(np.full(int(keep.sum()), segment.symbol, dtype=object))
        parts["seg"].append(np.full(int(keep.sum()), number, dtype=np.int64))
        parts["idx"].append(index[keep])
    if not parts["x"] or sum(len(p) for p in parts["fwd"]) == 0:
        raise BadInput(f"no labelled rows: {bars} bars, horizon {horizon}, warm-up {warmup}")
    joined = {key: np.concatenate(value) for key, value in parts.items()}
    order = np.lexsort((joined["sym"].astype(str), joined["ts"]))
    forward = joined["fwd"][order]
    report = DatasetReport(bars, len(order), dropped_warmup, dropped_end, len(segments))
    return Dataset(
        features=joined["x"][order].reshape(-1, len(FEATURE_NAMES)),
        labels=up_labels(forward, threshold),
        forward_return=forward,
        next_return=joined["nxt"][order],
        ts_ns=joined["ts"][order],
        label_end_ts_ns=joined["end"][order],
        symbols=joined["sym"][order],
        segment=joined["seg"][order],
        bar_index=joined["idx"][order],
        horizon=horizon,
        threshold=threshold,
        report=report,
    )
