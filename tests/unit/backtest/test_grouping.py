"""Signal groups sized by default: the universe over the signal slots the cluster offers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.app.supervisor import Supervisor, plan_groups
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import load_settings
from cluster.foundation.runtime.grouping import (
    MIN_SYMBOLS_PER_GROUP,
    choose_groups,
    local_signal_slots,
    offered_signal_slots,
    signal_slots_from,
)
from cluster.foundation.runtime.placement import SIGNALS_RESOURCE, SIGNALS_SLOTS_PER_NODE


def _settings_with_universe(n: int, **signal: object):
    base = load_settings()
    universe = tuple(f"S{i:04d}" for i in range(n))
    return base.model_copy(update={
        "market_data": base.market_data.model_copy(update={"source": "replay"}),
        "signal": base.signal.model_copy(update={"universe": universe, **signal}),
    })


def test_group_size_when_not_configured_then_the_default_is_auto():
    assert load_settings().signal.group_size is None


def test_choose_groups_when_1000_symbols_and_one_signals_node_then_one_group_per_slot():
    choice = choose_groups(1000, None, SIGNALS_SLOTS_PER_NODE)
    assert (choice.groups, choice.group_size, choice.how) == (SIGNALS_SLOTS_PER_NODE, 250, "auto")
    assert "1000 symbols in 4 signal group(s) of up to 250 symbols" in choice.describe()


def test_choose_groups_when_group_size_is_explicit_then_it_wins():
    choice = choose_groups(1000, 2, SIGNALS_SLOTS_PER_NODE)
    assert (choice.groups, choice.group_size, choice.how) == (500, 2, "explicit")


def test_choose_groups_when_few_symbols_then_groups_keep_at_least_two_symbols():
    assert choose_groups(4, None, 32).groups == 2
    assert choose_groups(1, None, 32).groups == 1
    assert choose_groups(0, None, 32).groups == 0


def test_choose_groups_when_explicit_size_is_below_one_then_config_error():
    with pytest.raises(ConfigError, match="group_size"):
        choose_groups(10, 0, 4)


@given(n=st.integers(0, 20_000), slots=st.integers(-3, 256))
def test_choose_groups_when_auto_then_never_more_groups_than_slots_and_every_symbol_placed(n, slots):
    choice = choose_groups(n, None, slots)
    groups = plan_groups([f"S{i}" for i in range(n)], choice.group_size)
    assert len(groups) == choice.groups <= max(1, slots)
    assert sum(len(g) for g in groups.values()) == n
    if choice.groups > 1:
        assert min(len(g) for g in groups.values()) >= 1
        assert choice.group_size >= MIN_SYMBOLS_PER_GROUP


def test_signal_slots_when_the_cluster_offers_the_signals_resource_then_they_count():
    assert signal_slots_from({SIGNALS_RESOURCE: 32.0, "CPU": 64.0}) == 32
    assert signal_slots_from({"CPU": 64.0}) == SIGNALS_SLOTS_PER_NODE
    assert signal_slots_from(None) == SIGNALS_SLOTS_PER_NODE


def test_local_slots_when_the_machine_has_few_or_many_cores_then_one_per_core_the_feed_and_risk_leave():
    assert [local_signal_slots(cpus) for cpus in (1, 2, 3, 4, 5, 64)] == [1, 1, 1, 2, 3, SIGNALS_SLOTS_PER_NODE]
    assert local_signal_slots(0) == 1


def test_supervisor_when_1000_symbols_with_default_settings_then_a_sane_number_of_signal_actors():
    sup = Supervisor(_settings_with_universe(1000))
    signal_actors = [n for n in sup.desired() if n.startswith("signal-")]
    # the slots of the cluster this process is connected to, else one per usable core (up to a node's worth)
    assert len(signal_actors) == offered_signal_slots()
    assert 1 <= len(signal_actors) <= SIGNALS_SLOTS_PER_NODE
    assert sorted(s for g in sup.groups.values() for s in g) == [f"S{i:04d}" for i in range(1000)]


def test_supervisor_when_it_joins_a_cluster_with_more_signal_slots_then_it_plans_for_them():
    sup = Supervisor(_settings_with_universe(1000))  # before it connects: one signals node's worth
    sup.plan_for(signal_slots=12)  # what start() does once connected to a cluster of three signals nodes
    assert len([n for n in sup.desired() if n.startswith("signal-")]) == 12
    assert sup.schedule == [(1, list(sup.groups))]
    assert sorted(s for g in sup.groups.values() for s in g) == [f"S{i:04d}" for i in range(1000)]


def test_supervisor_when_group_size_is_set_then_it_plans_that_size():
    sup = Supervisor(_settings_with_universe(10, group_size=3))
    assert [len(g) for g in sup.groups.values()] == [3, 3, 3, 1]


def test_supervisor_when_the_default_universe_then_its_symbols_keep_their_order_over_the_local_slots():
    groups = Supervisor(load_settings()).groups
    # the slots of the Ray cluster this process is connected to; without one, the local machine's
    # (up to 3 cores: one, the feed and risk keep two busy)
    if offered_signal_slots() == 1:
        assert groups == {"g0": ["SPY", "IBM", "BAC", "AIG"]}
    else:
        assert groups == {"g0": ["SPY", "IBM"], "g1": ["BAC", "AIG"]}
