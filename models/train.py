"""Walk-forward XGBoost training: `python -m models.train [--data ...] [--horizon N] [--seed S] ...`

Per fold: fit on train with early stopping on validation, then score the test block for
* AUC of P(up) against the label,
* hit rate (share of held positions whose next close moved their way; unchanged closes are
  left out) and P&L of a simple replay: position = sign(score) (long/short, 0 on a zero score),
  held for the next bar, P&L = sum of position x next-bar log return minus cost_bps per unit
  of position change, per symbol segment, in log-return units of one unit of notional. This is
  a yardstick only, not the cluster's pipeline (no risk limits, sizing or fills).
The aggregate the promotion gate compares is the MEAN TEST AUC over folds (GATE_METRIC).
The saved artifact is the last fold's booster (most training data, latest validation).
Same data + seed -> identical model bytes and metrics (fixed nthread, seeded sampling).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from numpy.typing import NDArray
from scipy.stats import rankdata

from models.dataset import Dataset, build_dataset, load_segments, resolve_paths
from models.features.spec import spec_hash
from models.gate import GATE_METRIC
from models.walk_forward import Split, Window, walk_forward_splits
from models.xgb_model import stamp_booster

Progress = Callable[[int, int], None]  # (fold, boosting rounds done) -> None


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """How a model is trained; every field is recorded with the version it produces."""

    horizon: int = 5
    """Bars ahead the label looks: up when the log return over them exceeds `threshold`."""
    threshold: float = 0.0
    seed: int = 7
    n_splits: int = 3
    """Walk-forward folds; each trains on the bars before its test span (all of them, or a rolling `window`)."""
    window: Window = "expanding"
    booster: dict[str, Any] = field(
        default_factory=lambda: {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "tree_method": "hist",
            "max_depth": 4,
            "eta": 0.05,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 20,
            "lambda": 1.0,
        }
    )
    """XGBoost's booster parameters; the rounds below bound its training."""
    num_boost_round: int = 300
    early_stopping_rounds: int = 30
    cost_bps: float = 1.0
    nthread: int = 2

    def xgb_params(self) -> dict[str, Any]:
        return {**self.booster, "seed": self.seed, "nthread": self.nthread}


@dataclass(frozen=True, slots=True)
class ReplayResult:
    pnl: float
    hit_rate: float
    positions_taken: int
    turnover: float


@dataclass(frozen=True, slots=True)
class TrainResult:
    booster: xgb.Booster
    metrics: dict[str, Any]
    params: dict[str, Any]


def auc(labels: NDArray[Any], scores: NDArray[Any]) -> float:
    """Area under the ROC curve (Mann-Whitney with average ranks for ties); NaN if one class only."""
    labels = np.asarray(labels, dtype=bool)
    positives = int(labels.sum())
    negatives = labels.shape[0] - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def replay(scores: NDArray[Any], next_return: NDArray[Any], segment: NDArray[Any], cost_bps: float) -> ReplayResult:
    """Rows in time order; each segment starts flat and is closed after its last row."""
    position = np.sign(np.asarray(scores, dtype=np.float64))
    next_return = np.asarray(next_return, dtype=np.float64)
    pnl = float(np.sum(position * next_return))
    turnover = 0.0
    for number in np.unique(segment):
        held = position[segment == number]
        turnover += float(np.abs(np.diff(held, prepend=0.0, append=0.0)).sum())
    pnl -= cost_bps / 10_000.0 * turnover
    active = position != 0.0
    moved = active & (next_return != 0.0)  # an unchanged next close is neither a hit nor a miss
    hits = int(np.sum(position[moved] * next_return[moved] > 0.0))
    judged = int(moved.sum())
    return ReplayResult(pnl, hits / judged if judged else float("nan"), int(active.sum()), turnover)


class _ProgressCallback(xgb.callback.TrainingCallback):
    def __init__(self, fold: int, progress: Progress) -> None:
        self._fold = fold
        self._progress = progress

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self._progress(self._fold, epoch + 1)
        return False


def train_fold(dataset: Dataset, split: Split, config: TrainConfig, progress: Progress | None = None) -> tuple[
    xgb.Booster, dict[str, Any]
]:
    x, y = dataset.features, dataset.labels
    train = xgb.DMatrix(x[split.train], label=y[split.train], missing=np.nan)
    validation = xgb.DMatrix(x[split.validation], label=y[split.validation], missing=np.nan)
    callbacks = [_ProgressCallback(split.fold, progress)] if progress else []
    booster = xgb.train(
        config.xgb_params(),
        train,
        num_boost_round=config.num_boost_round,
        evals=[(validation, "validation")],
        early_stopping_rounds=config.early_stopping_rounds,
        verbose_eval=False,
        callbacks=callbacks,
    )
    best = int(booster.best_iteration)
    booster = booster[: best + 1]  # keep the trees up to the best validation round only
    stamp_booster(booster)

    def score(rows: NDArray[Any]) -> NDArray[Any]:
        return 2.0 * booster.inplace_predict(x[rows], missing=np.nan) - 1.0

    test_scores = score(split.test)
    result = replay(test_scores, dataset.next_return[split.test], dataset.segment[split.test], config.cost_bps)
    metrics = {
        "fold": split.fold,
        "train_rows": len(split.train),
        "validation_rows": len(split.validation),
        "test_rows": len(split.test),
        "purged_rows": split.purged,
        "test_range_ns": [int(dataset.ts_ns[split.test[0]]), int(dataset.ts_ns[split.test[-1]])],
        "best_iteration": best,
        "validation_auc": auc(y[split.validation], score(split.validation)),
        "test_auc": auc(y[split.test], test_scores),
        "hit_rate": result.hit_rate,
        "replay_pnl": result.pnl,
        "replay_positions": result.positions_taken,
        "replay_turnover": result.turnover,
    }
    return booster, metrics


def aggregate(folds: Sequence[dict[str, Any]]) -> dict[str, float]:
    return {
        GATE_METRIC: float(np.nanmean([f["test_auc"] for f in folds])),
        "mean_validation_auc": float(np.nanmean([f["validation_auc"] for f in folds])),
        "mean_hit_rate": float(np.nanmean([f["hit_rate"] for f in folds])),
        "total_replay_pnl": float(np.sum([f["replay_pnl"] for f in folds])),
    }


def train_walk_forward(dataset: Dataset, config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    splits = walk_forward_splits(dataset.ts_ns, dataset.label_end_ts_ns, config.n_splits, config.window)
    folds: list[dict[str, Any]] = []
    booster: xgb.Booster | None = None
    for split in splits:
        booster, fold_metrics = train_fold(dataset, split, config, progress)
        folds.append(fold_metrics)
    assert booster is not None  # n_splits >= 1 is checked by walk_forward_splits
    metrics = {
        "gate_metric": GATE_METRIC,
        "aggregate": aggregate(folds),
        "splits": folds,
        "replay": "sign(score) position, next-bar log return, minus cost_bps per unit of position change",
        "dataset": asdict(dataset.report),
    }
    params = {
        "config": {**asdict(replace(config, booster={})), "booster": dict(config.booster)},
        "feature_hash": spec_hash(),
        "xgboost": xgb.__version__,
    }
    return TrainResult(booster, _json_safe(metrics), params)


def _json_safe(value: Any) -> Any:
    """NaN -> None, so metrics fit a JSON column on both database backends."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def save_artifact(booster: xgb.Booster, out_dir: Path, name: str = "model.ubj") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    booster.save_model(str(path))
    return path


DEFAULTS = TrainConfig()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["minute"], help="'minute', 'daily' or CSV paths")
    parser.add_argument("--start", help="first UTC date YYYY-MM-DD")
    parser.add_argument("--end", help="last UTC date YYYY-MM-DD")
    parser.add_argument("--symbols", nargs="+")
    parser.add_argument("--horizon", type=int, default=DEFAULTS.horizon, help="label horizon in bars")
    parser.add_argument("--threshold", type=float, default=DEFAULTS.threshold, help="log return that counts as up")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument("--splits", type=int, default=DEFAULTS.n_splits)
    parser.add_argument("--window", choices=["expanding", "rolling"], default=DEFAULTS.window)
    parser.add_argument("--rounds", type=int, default=DEFAULTS.num_boost_round)
    parser.add_argument("--cost-bps", type=float, default=DEFAULTS.cost_bps)
    parser.add_argument("--nthread", type=int, default=DEFAULTS.nthread)
    parser.add_argument("--registry-url", help="SQLAlchemy URL of model_versions (default: settings); "
                        "'env:NAME' reads it from the environment variable NAME; 'none' skips")
    parser.add_argument("--model-dir", help="registry artifact directory (default: settings.signal.model_dir)")
    parser.add_argument("--out", help="directory for model.ubj and metrics.json (default: <state_dir>/training)")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def _rich_progress(config: TrainConfig) -> tuple[Any, Progress]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as RichProgress

    bar = RichProgress(TextColumn("fold {task.fields[fold]}"), BarColumn(), MofNCompleteColumn(), transient=False)
    tasks: dict[int, Any] = {}

    def update(fold: int, rounds: int) -> None:
        if fold not in tasks:
            tasks[fold] = bar.add_task("train", total=config.num_boost_round, fold=fold)
        bar.update(tasks[fold], completed=rounds)

    return bar, update


def main(argv: Sequence[str] | None = None) -> int:
    from cluster.foundation.domain.settings import settings

    args = _parse_args(argv)
    config = TrainConfig(
        horizon=args.horizon, threshold=args.threshold, seed=args.seed, n_splits=args.splits, window=args.window,
        num_boost_round=args.rounds, cost_bps=args.cost_bps, nthread=args.nthread,
    )
    tree = settings()
    segments = load_segments(resolve_paths(args.data), start=args.start, end=args.end, symbols=args.symbols)
    dataset = build_dataset(segments, config.horizon, config.threshold)
    report = dataset.report
    print(f"dataset {dataset.data_range()}: {report.rows} rows from {report.bars} bars in {report.segments} segments; "
          f"dropped {report.dropped_warmup} warm-up and {report.dropped_past_end} past-the-end rows", file=sys.stderr)
    if args.no_progress:
        result = train_walk_forward(dataset, config)
    else:
        bar, update = _rich_progress(config)
        with bar:
            result = train_walk_forward(dataset, config, update)
    out_dir = Path(args.out) if args.out else tree.resolve(tree.state_dir) / "training"
    artifact = save_artifact(result.booster, out_dir)
    params = {**result.params, "data": list(args.data), "start": args.start, "end": args.end, "symbols": args.symbols}
    (out_dir / "metrics.json").write_text(json.dumps({"params": params, "metrics": result.metrics}, indent=2))
    summary: dict[str, Any] = {"artifact": str(artifact), "aggregate": result.metrics["aggregate"]}
    from models.jobs import resolve_secret_ref

    registry_url = resolve_secret_ref(args.registry_url) if args.registry_url else tree.database.url.get_secret_value()
    if registry_url.lower() != "none":
        from models.registry import ModelRegistry

        model_dir = tree.resolve(args.model_dir or tree.signal.model_dir)
        registry = ModelRegistry(registry_url, model_dir)
        try:
            record = registry.register_candidate(artifact, params, dataset.data_range(), result.metrics)
        finally:
            registry.close()
        summary["version"] = record.version
        summary["status"] = record.status
    print(json.dumps(summary, indent=2))
    return 0


def _cli() -> int:
    from cluster.foundation.domain.errors import TradingError

    try:
        return main()
    except TradingError as exc:
        print(f"training failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(_cli())
