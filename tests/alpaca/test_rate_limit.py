"""The client's request budget (pure, with a fake clock) and its behaviour against the simulator."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.execution.alpaca_broker import AlpacaBroker
from actors.execution.rate_limit import RequestBudget, retry_after_s
from tests.alpaca.conftest import start_sim
from tests.kit.clock import SecondsClock


@given(st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=300))
@settings(max_examples=60, deadline=None)
def test_budget_when_requests_arrive_at_any_pace_then_no_window_holds_more_than_the_limit(gaps: list[float]) -> None:
    clock, sent = SecondsClock(1000.0), []
    budget = RequestBudget(limit=20, window_s=1.0, clock=clock, margin_s=0.0)
    for gap in gaps:
        clock.now += gap
        while (wait := budget.wait_s()) > 0:
            clock.now += wait
        sent.append(clock.now)
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 1.0) <= 20


def test_budget_when_server_pauses_then_nothing_goes_before_the_pause_ends() -> None:
    clock = SecondsClock(1000.0)
    budget = RequestBudget(limit=200, window_s=60.0, clock=clock)
    budget.pause_until(clock.now + 3.0)
    assert budget.wait_s() == 3.0
    clock.now += 3.0
    assert budget.wait_s() == 0.0


def test_retry_after_when_headers_present_then_retry_after_wins_over_reset_epoch() -> None:
    assert retry_after_s({"Retry-After": "2", "X-RateLimit-Reset": "1005"}, now_epoch_s=1000.0) == 2.0
    assert retry_after_s({"X-RateLimit-Reset": "1005"}, now_epoch_s=1000.0) == 5.0
    assert retry_after_s({"X-RateLimit-Reset": "990"}, now_epoch_s=1000.0) == 0.0
    assert retry_after_s({}, now_epoch_s=1000.0, default_s=1.5) == 1.5


def test_client_when_60_calls_with_20_per_second_limit_then_server_never_answers_429() -> None:
    sim, stop = start_sim(rate_limit=20, rate_window_s=1.0)
    try:
        with AlpacaBroker(sim.client_config(rate_limit=20, rate_window_s=1.0), stream=False) as broker:
            started = time.monotonic()
            for _ in range(60):
                broker.clock()
            elapsed = time.monotonic() - started
        state = sim.admin("/admin/state")
    finally:
        stop()
    assert state["rate_limited"] == 0
    assert state["hits"]["GET /v2/clock"] == 60
    assert elapsed >= 2.0  # 60 requests at 20 per window need three windows


def test_client_when_no_client_limit_then_the_same_burst_meets_429_which_proves_the_server_limits() -> None:
    sim, stop = start_sim(rate_limit=20, rate_window_s=1.0)
    try:
        statuses = [sim.raw("GET", "/v2/clock")[0] for _ in range(25)]
        _, headers, body = sim.raw("GET", "/v2/clock")
    finally:
        stop()
    assert statuses.count(429) == 5
    assert body == {"code": 42910000, "message": "rate limit exceeded"}
    assert headers["X-RateLimit-Limit"] == "20" and headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) >= int(time.time())


def test_client_when_two_injected_429s_then_waits_for_reset_and_succeeds_on_third_attempt() -> None:
    sim, stop = start_sim()
    try:
        sim.admin("/admin/faults", {"status": 429, "count": 2, "match": "GET /v2/account"})
        with AlpacaBroker(sim.client_config(), stream=False) as broker:
            account = broker.account()
        hits = sim.admin("/admin/state")["hits"]
    finally:
        stop()
    assert account["status"] == "ACTIVE" and account["cash"] == "1000000.00"
    assert hits["GET /v2/account"] == 3
