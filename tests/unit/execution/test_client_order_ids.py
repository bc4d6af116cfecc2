"""client_order_id: one decision, one id; at most 48 characters (Alpaca's limit, enforced by the simulator)."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from cluster.foundation.domain.ids import MAX_CLIENT_ORDER_ID, client_order_id, parse_client_order_id

_DECISION = st.tuples(
    st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),  # the configured prefix
    st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True),
    st.integers(0, 2**63 - 1),
    st.sampled_from([-1, 0, 1]),
    st.integers(0, 36**6 - 1),
    st.sampled_from(["s", "k"]),
)


@given(st.lists(_DECISION, min_size=2, max_size=8, unique=True))
def test_client_order_id_when_decisions_differ_then_ids_differ_and_read_back(decisions: list[tuple]) -> None:  # type: ignore[type-arg]
    ids = [client_order_id(*d) for d in decisions]
    assert len(set(ids)) == len(decisions)
    for coid, (_, _, ts, target, step, origin) in zip(ids, decisions, strict=True):
        assert len(coid) <= MAX_CLIENT_ORDER_ID
        assert parse_client_order_id(coid) == (origin, ts, target, step)


@given(st.text(min_size=1, max_size=40), st.integers(0, 2**63 - 1))
def test_client_order_id_when_any_symbol_then_at_most_48_chars(symbol: str, ts_ns: int) -> None:
    assert len(client_order_id("abcdefgh", symbol, ts_ns, -1, 36**6 - 1, "k")) <= MAX_CLIENT_ORDER_ID


def test_client_order_id_when_longest_prefix_symbol_and_time_then_fits_the_simulator() -> None:
    coid = client_order_id("abcdefgh", "ABCDEFGHIJ", 2**63 - 1, -1, 36**6 - 1, "k")
    assert len(coid) <= 48
    assert msgspec.json.decode(msgspec.json.encode(coid)) == coid
