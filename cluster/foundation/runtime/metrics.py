"""Every metric the cluster exports, defined once, plus a small facade that records them.

Why one module: alert rules, Grafana panels and the Prometheus relabelling all name these series,
and tests/infra checks them against MetricSpec.prometheus_names(), so a typo cannot hide.

Where a name appears (Ray 2.60 always prefixes application metrics and has no switch):
* in code: MetricSpec.ray_name, e.g. "circuit_breaker_status", "alpaca_api_errors" (a counter);
* on Ray's metrics export port (8080 on KubeRay pods): "ray_" + ray_name, counters with "_total",
  histograms as _bucket/_sum/_count, e.g. ray_alpaca_api_errors_total;
* in Prometheus after metric_relabel_configs / PodMonitor metricRelabelings strip the prefix
  (RELABEL_REGEX): MetricSpec.name, e.g. alpaca_api_errors_total. Ray's own ray_* series keep theirs.

Recording: actors call Metrics methods once per batch (a count of events, one gauge value), never
per tick. Outside a Ray worker the facade records nothing (or into InMemoryRecorder in tests), so
pure cores and unit tests never need Ray.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cluster.foundation.runtime import ray_calls


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class BreakerCode:
    """Numeric values of circuit_breaker_status (a gauge cannot carry a string)."""

    CLOSED = 0
    REDUCING = 1
    OPEN = 2


LATENCY_BOUNDARIES_S: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)
BROKER_BOUNDARIES_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Tick to decision/order: fine around the 5 ms goal and the batch cut interval, up to a stalled pipeline.
PIPELINE_BOUNDARIES_S: tuple[float, ...] = (
    0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
)

# Prometheus regex (RE2, anchored) that picks our series out of Ray's export; group 1 is the new name.
RELABEL_REGEX = "ray_((?:trading|alpaca)_.+|circuit_breaker_status|postgresql_up)"
_VALID_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One series family: its Prometheus name (after relabelling), kind, meaning and tags."""

    name: str
    kind: Kind
    description: str
    tag_keys: tuple[str, ...] = ()
    boundaries: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not _VALID_NAME.match(self.name) or self.name.startswith("ray_"):
            raise ValueError(f"metric name {self.name!r} must match {_VALID_NAME.pattern} and not start with ray_")
        if (self.kind is Kind.COUNTER) != self.name.endswith("_total"):
            raise ValueError(f"{self.name}: counters, and only counters, end in _total")
        if (self.kind is Kind.HISTOGRAM) != bool(self.boundaries):
            raise ValueError(f"{self.name}: histograms, and only histograms, have boundaries")
        if any(b <= 0 for b in self.boundaries) or list(self.boundaries) != sorted(set(self.boundaries)):
            raise ValueError(f"{self.name}: boundaries must be positive and strictly increasing")

    @property
    def ray_name(self) -> str:
        """Name given to ray.util.metrics; Ray appends _total to counters itself."""
        return self.name.removesuffix("_total") if self.kind is Kind.COUNTER else self.name

    @property
    def exported_name(self) -> str:
        """Family name on Ray's export port, before relabelling."""
        return f"ray_{self.name}"

    def prometheus_names(self) -> tuple[str, ...]:
        """Series names queryable in Prometheus after relabelling."""
        if self.kind is Kind.HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


def _c(name: str, description: str, *tags: str) -> MetricSpec:
    return MetricSpec(name, Kind.COUNTER, description, tags)


def _g(name: str, description: str, *tags: str) -> MetricSpec:
    return MetricSpec(name, Kind.GAUGE, description, tags)


def _h(name: str, description: str, boundaries: tuple[float, ...], *tags: str) -> MetricSpec:
    return MetricSpec(name, Kind.HISTOGRAM, description, tags, boundaries)


ALPACA_WEBSOCKET_CONNECTED = _g("alpaca_websocket_connected", "1 while the market data WebSocket is connected, else 0", "feed")
CIRCUIT_BREAKER_STATUS = _g("circuit_breaker_status", "Breaker state: 0 closed, 1 reducing, 2 open")
POSTGRESQL_UP = _g("postgresql_up", "1 while the last database health probe succeeded, else 0")
ALPACA_API_ERRORS = _c("alpaca_api_errors_total", "Alpaca REST calls that failed, by HTTP status and API code", "status", "code")

EVENTS_IN = _c("trading_events_in_total", "Bus messages received, counted per batch", "actor")
EVENTS_OUT = _c("trading_events_out_total", "Bus messages published, counted per batch", "actor")
BUS_SEQUENCE_GAPS = _c("trading_bus_sequence_gaps_total", "Envelopes missing between two received sequence numbers", "topic")
BUS_DROPS = _c("trading_bus_drops_total", "Envelopes dropped because a send queue was full", "topic")
BUS_HANDSHAKES_REFUSED = _c("trading_bus_handshakes_refused_total",
                            "Connections to a bus endpoint refused at the CURVE handshake, by reason", "actor", "reason")
MARKET_DATA_LAST_BATCH = _g(
    "trading_market_data_last_batch_timestamp_seconds", "Wall-clock Unix time the last market data batch arrived", "feed"
)
SIGNALS = _c("trading_signals_total", "Signals emitted", "side")
PREDICTIONS = _c("trading_predictions_total", "Model predictions made", "model_version")
ORDERS = _c("trading_orders_total", "Order updates by resulting status", "status")
FILLS = _c("trading_fills_total", "Fills received")
RISK_REJECTIONS = _c("trading_risk_rejections_total", "Order intents the risk core refused, by rule", "reason")
POSITIONS_OPEN = _g("trading_positions_open", "Symbols with a non-zero position")
EXPOSURE_USD = _g("trading_exposure_usd", "Sum of |position| notionals in USD")
DAILY_PNL_USD = _g("trading_daily_pnl_usd", "Realized plus unrealized P&L of the trading day in USD")
MODEL_VERSION_INFO = _g("trading_model_version_info", "1 for the model version a signal actor serves", "version")
ACTOR_RESTARTS = _c("trading_actor_restarts_total", "Actor restarts seen by the supervisor", "actor")
PIPELINE_STALL_SECONDS = _g("trading_pipeline_stall_seconds",
                            "Seconds the risk actor has waited on one batch while the feed is ahead (0 when flowing)")

FEATURE_UPDATE_SECONDS = _h("trading_feature_update_seconds", "Time to update features for one batch", LATENCY_BOUNDARIES_S)
INFERENCE_SECONDS = _h("trading_inference_seconds", "Time of one batched model predict", LATENCY_BOUNDARIES_S)
RISK_CHECK_SECONDS = _h("trading_risk_check_seconds", "Time of the risk check of one order batch", LATENCY_BOUNDARIES_S)
ORDER_ACK_SECONDS = _h("trading_order_ack_seconds", "Order submit to broker acknowledgement", BROKER_BOUNDARIES_S)
TICK_TO_ORDER_SECONDS = _h("trading_tick_to_order_seconds", "Market-data batch whole at the risk actor to order submission", PIPELINE_BOUNDARIES_S)
TICK_TO_DECISION_SECONDS = _h("trading_tick_to_decision_seconds",
                              "Market data batch complete at the risk actor to its order batch decided and sent",
                              PIPELINE_BOUNDARIES_S)

ALL_METRICS: tuple[MetricSpec, ...] = (
    ALPACA_WEBSOCKET_CONNECTED, CIRCUIT_BREAKER_STATUS, POSTGRESQL_UP, ALPACA_API_ERRORS,
    EVENTS_IN, EVENTS_OUT, BUS_SEQUENCE_GAPS, BUS_DROPS, BUS_HANDSHAKES_REFUSED, MARKET_DATA_LAST_BATCH, SIGNALS, PREDICTIONS,
    ORDERS, FILLS, RISK_REJECTIONS, POSITIONS_OPEN, EXPOSURE_USD, DAILY_PNL_USD, MODEL_VERSION_INFO,
    ACTOR_RESTARTS, PIPELINE_STALL_SECONDS, FEATURE_UPDATE_SECONDS, INFERENCE_SECONDS, RISK_CHECK_SECONDS, ORDER_ACK_SECONDS,
    TICK_TO_ORDER_SECONDS, TICK_TO_DECISION_SECONDS,
)


def prometheus_series_names() -> frozenset[str]:
    """Every series name our metrics produce in Prometheus (after relabelling)."""
    return frozenset(n for spec in ALL_METRICS for n in spec.prometheus_names())


class Recorder(Protocol):
    """Back end of the facade; tags are already checked against the spec."""

    def inc(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None: ...
    def set(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None: ...
    def observe(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None: ...


class NullRecorder:
    """Records nothing: the default outside a Ray worker."""

    def inc(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        return None

    def set(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        return None

    def observe(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        return None


TagKey = tuple[tuple[str, str], ...]


class InMemoryRecorder:
    """Keeps values in dicts so tests can assert what a core or actor recorded."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, TagKey], float] = {}
        self.gauges: dict[tuple[str, TagKey], float] = {}
        self.observations: dict[tuple[str, TagKey], list[float]] = {}

    def inc(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        key = (spec.name, tuple(sorted(tags.items())))
        self.counters[key] = self.counters.get(key, 0.0) + value

    def set(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        self.gauges[(spec.name, tuple(sorted(tags.items())))] = value

    def observe(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        self.observations.setdefault((spec.name, tuple(sorted(tags.items()))), []).append(value)

    def value(self, spec: MetricSpec, **tags: str) -> float | None:
        """Current counter or gauge value for exactly these tags, None if never recorded."""
        store = self.counters if spec.kind is Kind.COUNTER else self.gauges
        return store.get((spec.name, tuple(sorted(tags.items()))))

    def observed(self, spec: MetricSpec, **tags: str) -> list[float]:
        return list(self.observations.get((spec.name, tuple(sorted(tags.items()))), []))


class RayRecorder:
    """Creates each ray.util.metrics object (through cluster.foundation.runtime.ray_calls) on first use, once per process."""

    def __init__(self) -> None:
        self._objects: dict[str, Any] = {}

    def _metric(self, spec: MetricSpec) -> Any:
        metric = self._objects.get(spec.name)
        if metric is None:
            metric = ray_calls.metric(
                str(spec.kind), spec.ray_name, spec.description, tuple(spec.tag_keys), spec.boundaries
            )
            self._objects[spec.name] = metric
        return metric

    def inc(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        if value == 0:  # Counter.inc refuses 0; recording it makes the series exist at 0 (declare)
            ray_calls.declare_counter(self._metric(spec), dict(tags))
            return
        self._metric(spec).inc(value, tags=dict(tags))

    def set(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        self._metric(spec).set(value, tags=dict(tags))

    def observe(self, spec: MetricSpec, value: float, tags: Mapping[str, str]) -> None:
        self._metric(spec).observe(value, tags=dict(tags))


def inside_ray_worker() -> bool:
    """True in a process where Ray is initialised. Never imports Ray itself (pure cores stay light)."""
    ray = sys.modules.get("ray")
    return bool(ray is not None and ray.is_initialized())


def default_recorder() -> Recorder:
    return RayRecorder() if inside_ray_worker() else NullRecorder()


class Metrics:
    """The facade actors use: checks kind and tags against the spec, then hands off to a recorder."""

    def __init__(self, recorder: Recorder | None = None) -> None:
        self._recorder = recorder if recorder is not None else default_recorder()

    @staticmethod
    def _checked(spec: MetricSpec, expected: Kind, tags: Mapping[str, str]) -> dict[str, str]:
        if spec.kind is not expected:
            raise ValueError(f"{spec.name} is a {spec.kind}, not a {expected}")
        if set(tags) != set(spec.tag_keys):
            raise ValueError(f"{spec.name} takes tags {sorted(spec.tag_keys)}, got {sorted(tags)}")
        return {k: str(v) for k, v in tags.items()}

    def inc(self, spec: MetricSpec, value: float = 1.0, **tags: str) -> None:
        """Add to a counter; a batch adds its size once. Zero is skipped (Ray rejects it)."""
        checked = self._checked(spec, Kind.COUNTER, tags)
        if value < 0:
            raise ValueError(f"{spec.name}: a counter cannot go down (got {value})")
        if value > 0:
            self._recorder.inc(spec, float(value), checked)

    def declare(self, spec: MetricSpec, **tags: str) -> None:
        """Make a counter series exist at 0 (so rate() and dashboards see it before the first event)."""
        self._recorder.inc(spec, 0.0, self._checked(spec, Kind.COUNTER, tags))

    def set(self, spec: MetricSpec, value: float, **tags: str) -> None:
        self._recorder.set(spec, float(value), self._checked(spec, Kind.GAUGE, tags))

    def observe(self, spec: MetricSpec, value: float, **tags: str) -> None:
        self._recorder.observe(spec, float(value), self._checked(spec, Kind.HISTOGRAM, tags))

    def observe_many(self, spec: MetricSpec, values: Iterable[float], **tags: str) -> None:
        checked = self._checked(spec, Kind.HISTOGRAM, tags)
        for value in values:
            self._recorder.observe(spec, float(value), checked)
