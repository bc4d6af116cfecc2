"""Model registry: artifacts under model_dir, one model_versions row each, a promotion gate.

Statuses follow MODEL_TRANSITIONS (candidate -> shadow/live/retired, live -> retired,
retired -> live on rollback); anything else raises InvalidTransition.

The gate (decide_promotion, pure): a candidate goes live only if
* its feature hash equals the serving spec_hash() (never overridable: its columns would mean
  something else), and
* its GATE_METRIC, the mean walk-forward TEST AUC, is at least `margin` above the live model's
  (above NO_LIVE_BASELINE, a coin flip's 0.5, when nothing is live).
force=True skips the metric comparison only, and says so in the reason and the audit log.
Refused candidates stay candidates with the reason recorded.

Every promotion and rollback also writes an audit_log row. Rollback follows previous_live:
the live version is retired and the one it replaced is live again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, RowMapping, Table, insert, inspect, select, update
from sqlalchemy.exc import NoSuchTableError

from cluster.foundation.domain.errors import BadInput, ConfigError, InvalidTransition
from cluster.foundation.domain.records import AuditRecord
from cluster.foundation.storage.db import models as m
from cluster.foundation.storage.db.engine import make_engine
from cluster.foundation.storage.db.ops import audit_row
from cluster.foundation.storage.db.types import dt_to_ns, ns_to_dt
from models.features.spec import spec_hash
from models.gate import GATE_METRIC
from models.xgb_model import XgbModel

if TYPE_CHECKING:
    from cluster.foundation.domain.settings import Settings

DEFAULT_PROMOTION_MARGIN = 0.01
NO_LIVE_BASELINE = 0.5
_VERSIONS: Table = m.ModelVersion.__table__  # type: ignore[assignment]
_AUDIT: Table = m.AuditLogRow.__table__  # type: ignore[assignment]

_BY_TRIGGER: dict[str, tuple[tuple[str, ...], str]] = {  # trigger: (the statuses it leaves, the status it makes)
    "shadow": (("candidate",), "shadow"),
    "promote": (("candidate", "shadow"), "live"),
    "retire": (("candidate", "shadow", "live"), "retired"),
    "restore": (("retired",), "live"),
}
MODEL_TRANSITIONS: dict[tuple[str, str], str] = {
    (status, trigger): after for trigger, (before, after) in _BY_TRIGGER.items() for status in before}


def next_status(version: str, status: str, trigger: str) -> str:
    try:
        return MODEL_TRANSITIONS[(status, trigger)]
    except KeyError:
        raise InvalidTransition(f"model {version}: {status} -> {trigger}") from None


@dataclass(frozen=True, slots=True)
class ModelRecord:
    version: str
    created_at_ns: int
    feature_hash: str
    params: dict[str, Any]
    data_range: str
    metrics: dict[str, Any]
    status: str
    reason: str
    artifact_path: str
    artifact_sha256: str
    previous_live: str | None

    def gate_value(self) -> float | None:
        value = self.metrics.get("aggregate", {}).get(GATE_METRIC)
        return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    promote: bool
    reason: str


@dataclass(frozen=True, slots=True)
class PromotionResult:
    version: str
    promoted: bool
    status: str
    reason: str
    replaced: str | None
    candidate_metric: float | None
    live_metric: float | None


@dataclass(frozen=True, slots=True)
class RollbackResult:
    retired: str
    restored: str
    reason: str


def decide_promotion(
    candidate: ModelRecord, live: ModelRecord | None, serving_hash: str, margin: float, force: bool = False
) -> PromotionDecision:
    if candidate.feature_hash != serving_hash:
        return PromotionDecision(False, f"feature hash {candidate.feature_hash} != serving {serving_hash}")
    mine = candidate.gate_value()
    theirs = NO_LIVE_BASELINE if live is None else live.gate_value()
    against = "no live model, baseline" if live is None else f"live {live.version}"
    comparison = f"{GATE_METRIC} {mine} vs {against} {theirs} (margin {margin})"
    if mine is None:
        verdict = PromotionDecision(False, f"candidate has no {GATE_METRIC}")
    elif theirs is not None and mine < theirs + margin:
        verdict = PromotionDecision(False, f"{comparison}: not better by the margin")
    else:
        verdict = PromotionDecision(True, f"{comparison}: passed")
    if force and not verdict.promote:
        return PromotionDecision(True, f"FORCED past the gate ({verdict.reason})")
    return verdict


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _utc_stamp(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y%m%d%H%M%S")


class ModelRegistry:
    """Reads and writes model_versions with SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(
        self,
        db: str | Engine,
        model_dir: str | Path,
        clock: Callable[[], int] = time.time_ns,
        serving_hash: str | None = None,
    ) -> None:
        self._owns_engine = isinstance(db, str)
        self._engine = make_engine(db) if isinstance(db, str) else db
        self.model_dir = Path(model_dir)
        self._clock = clock
        self.serving_hash = serving_hash or spec_hash()
        self._check_schema()

    def _check_schema(self) -> None:
        """Fail at start-up, with the fix, when model_versions is missing or older than this code."""
        try:
            columns = {c["name"] for c in inspect(self._engine).get_columns("model_versions")}
        except NoSuchTableError:
            columns = set()
        missing = sorted(set(_VERSIONS.c.keys()) - columns)
        if missing:
            url = self._engine.url.render_as_string(hide_password=True)
            raise ConfigError(f"model registry {url}: model_versions lacks {missing}; run the Alembic upgrade "
                              "(python -m cluster.app.cli db upgrade) first")

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def register_candidate(
        self,
        artifact: str | Path,
        params: Mapping[str, Any],
        data_range: str,
        metrics: Mapping[str, Any],
        feature_hash: str | None = None,
    ) -> ModelRecord:
        """Copy the artifact into model_dir as <version><suffix> and add a candidate row."""
        source = Path(artifact)
        if not source.is_file():
            raise BadInput(f"artifact {source} does not exist")
        digest = file_sha256(source)
        now = self._clock()
        version = f"xgb-{_utc_stamp(now)}-{digest[:8]}"
        existing = self._find(version)
        if existing is not None:
            return existing  # the same file registered twice in one second
        self.model_dir.mkdir(parents=True, exist_ok=True)
        target = self.model_dir / f"{version}{source.suffix or '.ubj'}"
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        record = ModelRecord(
            version=version, created_at_ns=now, feature_hash=feature_hash or str(params.get("feature_hash", "")),
            params=dict(params), data_range=data_range[:64], metrics=dict(metrics), status="candidate",
            reason="registered by training", artifact_path=target.name, artifact_sha256=digest, previous_live=None,
        )
        if not record.feature_hash:
            raise BadInput(f"model {version}: no feature hash given or found in params")
        with self._engine.begin() as conn:
            conn.execute(insert(_VERSIONS).values(**self._row(record)))
        return record

    def get(self, version: str) -> ModelRecord:
        record = self._find(version)
        if record is None:
            raise BadInput(f"unknown model version {version!r}")
        return record

    def list_versions(self) -> list[ModelRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(_VERSIONS).order_by(_VERSIONS.c.created_at, _VERSIONS.c.version)).mappings()
            return [self._record(row) for row in rows]

    def live_version(self) -> ModelRecord | None:
        with self._engine.connect() as conn:
            return self._live(conn)

    def promote(
        self, version: str, by: str, reason: str, margin: float = DEFAULT_PROMOTION_MARGIN, force: bool = False
    ) -> PromotionResult:
        with self._engine.begin() as conn:
            candidate = self._find(version, conn)
            if candidate is None:
                raise BadInput(f"unknown model version {version!r}")
            next_status(version, candidate.status, "promote")
            live = self._live(conn)
            decision = decide_promotion(candidate, live, self.serving_hash, margin, force)
            if decision.promote:
                try:
                    self.load_model(version)
                except ConfigError as exc:
                    decision = PromotionDecision(False, f"artifact unusable: {exc}")
            live_metric = None if live is None else live.gate_value()
            if not decision.promote:
                note = f"promotion refused (by {by}: {reason}): {decision.reason}"
                self._set(conn, version, candidate.status, note)
                self._audit(conn, "model_promotion_refused", by, note, version, live)
                return PromotionResult(version, False, candidate.status, note, None, candidate.gate_value(), live_metric)
            note = f"promoted by {by}: {reason}; {decision.reason}"
            if live is not None:
                self._set(conn, live.version, next_status(live.version, live.status, "retire"), f"replaced by {version}")
            self._set(conn, version, "live", note, previous_live=None if live is None else live.version)
            self._audit(conn, "model_promoted", by, note, version, live)
        return PromotionResult(version, True, "live", note, None if live is None else live.version,
                               candidate.gate_value(), live_metric)

    def rollback(self, by: str, reason: str) -> RollbackResult:
        with self._engine.begin() as conn:
            live = self._live(conn)
            if live is None:
                raise BadInput("rollback: no model is live")
            if live.previous_live is None:
                raise BadInput(f"rollback: live model {live.version} replaced no earlier live model")
            previous = self._find(live.previous_live, conn)
            if previous is None:
                raise BadInput(f"rollback: previous live model {live.previous_live!r} is not registered")
            restored_status = next_status(previous.version, previous.status, "restore")
            note = f"rolled back by {by}: {reason}"
            self._set(conn, live.version, next_status(live.version, live.status, "retire"), note)
            self._set(conn, previous.version, restored_status, f"restored by {by}: {reason} (replacing {live.version})")
            self._audit(conn, "model_rolled_back", by, note, previous.version, live)
        return RollbackResult(live.version, previous.version, note)

    def set_status(self, version: str, trigger: str, by: str, reason: str) -> ModelRecord:
        """shadow / retire a version by hand (promotion and rollback have their own methods)."""
        if trigger in ("promote", "restore"):
            raise ValueError(f"use promote() or rollback() for {trigger!r}")
        with self._engine.begin() as conn:
            record = self._find(version, conn)
            if record is None:
                raise BadInput(f"unknown model version {version!r}")
            status = next_status(version, record.status, trigger)
            self._set(conn, version, status, f"{trigger} by {by}: {reason}")
            self._audit(conn, f"model_{trigger}", by, reason, version, None)
        return self.get(version)

    def artifact_file(self, record: ModelRecord) -> Path:
        path = Path(record.artifact_path)
        return path if path.is_absolute() else self.model_dir / path

    def load_model(self, version: str) -> XgbModel:
        """The version's booster, after checking file, sha256, loadability and feature hash."""
        record = self.get(version)
        path = self.artifact_file(record)
        if not path.is_file():
            raise ConfigError(f"model {version}: artifact {path} does not exist")
        digest = file_sha256(path)
        if digest != record.artifact_sha256:
            raise ConfigError(f"model {version}: artifact {path} sha256 {digest[:16]}... "
                              f"differs from the registered {record.artifact_sha256[:16]}...; it was altered")
        if record.feature_hash != self.serving_hash:
            raise ConfigError(f"model {version}: registered feature hash {record.feature_hash} "
                              f"does not match the serving spec_hash {self.serving_hash}")
        return XgbModel.from_file(path, version, self.serving_hash)

    def load_live(self) -> XgbModel | None:
        live = self.live_version()
        return None if live is None else self.load_model(live.version)

    def _find(self, version: str, conn: Connection | None = None) -> ModelRecord | None:
        query = select(_VERSIONS).where(_VERSIONS.c.version == version)
        if conn is not None:
            row = conn.execute(query).mappings().first()
            return None if row is None else self._record(row)
        with self._engine.connect() as own:
            row = own.execute(query).mappings().first()
            return None if row is None else self._record(row)

    def _live(self, conn: Connection) -> ModelRecord | None:
        rows = conn.execute(select(_VERSIONS).where(_VERSIONS.c.status == "live")).mappings().all()
        if len(rows) > 1:
            raise ConfigError(f"model registry has {len(rows)} live versions: {[r['version'] for r in rows]}")
        return self._record(rows[0]) if rows else None

    def _set(self, conn: Connection, version: str, status: str, reason: str, **extra: Any) -> None:
        values = {"status": status, "reason": reason, **extra}
        conn.execute(update(_VERSIONS).where(_VERSIONS.c.version == version).values(**values))

    def _audit(self, conn: Connection, action: str, by: str, reason: str, version: str, live: ModelRecord | None) -> None:
        details = {"version": version, "previous_live": None if live is None else live.version}
        record = AuditRecord(action=action, caller=by[:64], reason=reason, occurred_at_ns=self._clock(), details=details)
        conn.execute(insert(_AUDIT).values(**audit_row(record)))

    @staticmethod
    def _row(record: ModelRecord) -> dict[str, Any]:
        return {
            "version": record.version, "created_at": ns_to_dt(record.created_at_ns), "feature_hash": record.feature_hash,
            "params": record.params, "data_range": record.data_range, "metrics": record.metrics,
            "status": record.status, "reason": record.reason, "artifact_path": record.artifact_path,
            "artifact_sha256": record.artifact_sha256, "previous_live": record.previous_live,
        }

    @staticmethod
    def _record(row: RowMapping) -> ModelRecord:
        return ModelRecord(
            version=row["version"], created_at_ns=dt_to_ns(row["created_at"]), feature_hash=row["feature_hash"],
            params=dict(row["params"]), data_range=row["data_range"], metrics=dict(row["metrics"]),
            status=row["status"], reason=row["reason"], artifact_path=row["artifact_path"],
            artifact_sha256=row["artifact_sha256"], previous_live=row["previous_live"],
        )


def registry_from_settings(settings: Settings) -> ModelRegistry:
    """The registry the cluster serves from: settings.database (relative SQLite paths resolved) and model_dir."""
    from cluster.foundation.storage.factory import database_url

    return ModelRegistry(database_url(settings), settings.resolve(settings.signal.model_dir))


def load_live_model(settings: Settings, version: str | None = None) -> XgbModel:
    """The registry's live model (or `version`), checked; ConfigError with the fix when there is none."""
    registry = registry_from_settings(settings)
    try:
        if version is not None:
            return registry.load_model(version)
        live = registry.live_version()
        if live is None:
            raise ConfigError(
                f"signal.strategy is 'model' but the registry {registry.model_dir} has no live model: train one "
                "(python -m models.train, or trading-cluster retrain) and promote it (trading-cluster models promote "
                "VERSION), or set TRADING_SIGNAL__STRATEGY=rule_baseline")
        return registry.load_model(live.version)
    finally:
        registry.close()
