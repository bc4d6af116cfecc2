"""cluster/foundation/runtime/metrics.py: the catalogue is consistent, the facade checks usage, and the relabel rule is exact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cluster.foundation.runtime.metrics as m
from cluster.foundation.runtime.metrics import InMemoryRecorder, Kind, Metrics, MetricSpec, NullRecorder

SEED_NAMES = {"alpaca_websocket_connected", "circuit_breaker_status", "postgresql_up", "alpaca_api_errors_total"}


def _relabel(name: str) -> str:
    """What Prometheus does with our rule: full (anchored) match, replace with $1, else keep."""
    match = re.fullmatch(m.RELABEL_REGEX, name)
    return match.group(1) if match else name


def _ray_builtin_metric_names() -> set[str]:
    import ray.dashboard.modules.metrics.dashboards as dashboards

    folder = Path(dashboards.__file__).parent
    return {n for f in folder.glob("*_panels.py") for n in re.findall(r"\bray_[a-zA-Z_]+", f.read_text())}


def test_catalogue_when_listed_then_names_are_unique_and_include_the_seed_metrics() -> None:
    names = [spec.name for spec in m.ALL_METRICS]
    assert len(names) == len(set(names))
    assert set(names) >= SEED_NAMES


def test_catalogue_when_listed_then_every_module_level_spec_is_in_all_metrics() -> None:
    module_specs = {v.name for v in vars(m).values() if isinstance(v, MetricSpec)}
    assert module_specs == {spec.name for spec in m.ALL_METRICS}


def test_latency_histograms_when_defined_then_measure_seconds() -> None:
    histograms = [s for s in m.ALL_METRICS if s.kind is Kind.HISTOGRAM]
    assert {s.name for s in histograms} >= {
        "trading_feature_update_seconds", "trading_inference_seconds", "trading_risk_check_seconds",
        "trading_order_ack_seconds", "trading_tick_to_order_seconds",
    }
    assert all(s.name.endswith("_seconds") and s.boundaries[-1] <= 60 for s in histograms)


def test_spec_when_counter_lacks_total_suffix_then_raises() -> None:
    with pytest.raises(ValueError, match="_total"):
        MetricSpec("trading_things", Kind.COUNTER, "x")


def test_spec_when_name_already_has_ray_prefix_then_raises() -> None:
    with pytest.raises(ValueError, match="ray_"):
        MetricSpec("ray_trading_x", Kind.GAUGE, "x")


def test_spec_when_histogram_boundaries_not_increasing_then_raises() -> None:
    with pytest.raises(ValueError, match="increasing"):
        MetricSpec("trading_x_seconds", Kind.HISTOGRAM, "x", (), (0.1, 0.1, 1.0))


def test_ray_name_when_counter_then_drops_total_because_ray_appends_it() -> None:
    assert m.ALPACA_API_ERRORS.ray_name == "alpaca_api_errors"
    assert m.CIRCUIT_BREAKER_STATUS.ray_name == "circuit_breaker_status"


def test_relabel_regex_when_applied_to_ray_export_then_yields_our_prometheus_names() -> None:
    for spec in m.ALL_METRICS:
        # Ray exports ray_<ray_name> (+ _total for counters, + _bucket/_sum/_count for histograms)
        exported = "ray_" + spec.ray_name + ("_total" if spec.kind is Kind.COUNTER else "")
        suffixes = ("_bucket", "_sum", "_count") if spec.kind is Kind.HISTOGRAM else ("",)
        assert [_relabel(exported + s) for s in suffixes] == list(spec.prometheus_names())


def test_relabel_regex_when_applied_to_rays_own_metrics_then_leaves_them_unchanged() -> None:
    builtin = _ray_builtin_metric_names()
    assert len(builtin) > 30  # the panels really were read
    assert all(_relabel(name) == name for name in builtin)


def test_facade_when_batch_counted_then_in_memory_recorder_holds_the_sum() -> None:
    recorder = InMemoryRecorder()
    metrics = Metrics(recorder)
    metrics.inc(m.EVENTS_IN, 256, actor="market_data")
    metrics.inc(m.EVENTS_IN, 44, actor="market_data")
    metrics.inc(m.EVENTS_IN, 0, actor="market_data")
    assert recorder.value(m.EVENTS_IN, actor="market_data") == 300
    assert recorder.value(m.EVENTS_IN, actor="risk") is None


def test_facade_when_gauge_set_twice_then_last_value_wins() -> None:
    recorder = InMemoryRecorder()
    metrics = Metrics(recorder)
    metrics.set(m.CIRCUIT_BREAKER_STATUS, m.BreakerCode.OPEN)
    metrics.set(m.CIRCUIT_BREAKER_STATUS, m.BreakerCode.REDUCING)
    assert recorder.value(m.CIRCUIT_BREAKER_STATUS) == 1


def test_facade_when_histogram_batch_observed_then_every_value_is_kept() -> None:
    recorder = InMemoryRecorder()
    Metrics(recorder).observe_many(m.INFERENCE_SECONDS, [0.002, 0.004])
    assert recorder.observed(m.INFERENCE_SECONDS) == [0.002, 0.004]


def test_facade_when_tag_missing_then_raises_like_ray_would() -> None:
    with pytest.raises(ValueError, match="status"):
        Metrics(InMemoryRecorder()).inc(m.ALPACA_API_ERRORS, code="40310000")


def test_facade_when_unknown_tag_given_then_raises() -> None:
    with pytest.raises(ValueError, match="tags"):
        Metrics(InMemoryRecorder()).set(m.POSTGRESQL_UP, 1, host="db")


def test_facade_when_wrong_kind_used_then_raises() -> None:
    with pytest.raises(ValueError, match="gauge"):
        Metrics(InMemoryRecorder()).inc(m.POSTGRESQL_UP)


def test_facade_when_counter_decremented_then_raises() -> None:
    with pytest.raises(ValueError, match="cannot go down"):
        Metrics(InMemoryRecorder()).inc(m.FILLS, -1)


def test_default_recorder_when_ray_not_initialised_then_is_a_no_op() -> None:
    assert isinstance(m.default_recorder(), NullRecorder)
    Metrics().set(m.POSTGRESQL_UP, 0)  # must not need Ray
