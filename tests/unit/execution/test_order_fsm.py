"""The order transition table: the normal path, the refusals, and the late fills brokers do send."""

from __future__ import annotations

from typing import get_args

import pytest

from actors.execution.order_fsm import ORDER_TRANSITIONS, OrderFSM
from cluster.foundation.domain.errors import InvalidTransition
from cluster.foundation.domain.wire import OrderStatus

ALL_STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)


def _fsm_at(status: OrderStatus) -> OrderFSM:
    return OrderFSM(initial=status)


def test_apply_when_order_acked_then_partially_then_fully_filled_then_ends_filled_and_terminal() -> None:
    # Arrange
    fsm = OrderFSM()
    # Act
    visited = [fsm.apply(status) for status in ("new", "partially_filled", "partially_filled", "filled")]
    # Assert
    assert visited == ["new", "partially_filled", "partially_filled", "filled"]
    assert fsm.state == "filled"
    assert fsm.is_terminal


def test_new_fsm_when_created_then_is_pending_new_and_not_terminal() -> None:
    fsm = OrderFSM()
    assert fsm.state == "pending_new"
    assert not fsm.is_terminal


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        ("filled", "new"),
        ("filled", "partially_filled"),
        ("filled", "canceled"),
        ("rejected", "new"),
        ("rejected", "filled"),
        ("canceled", "new"),
        ("canceled", "pending_cancel"),
        ("expired", "new"),
        ("replaced", "filled"),
        ("new", "pending_new"),
        ("partially_filled", "new"),
        ("pending_new", "replaced"),
    ],
)
def test_apply_when_transition_is_impossible_then_raises_naming_both_states(
    current: OrderStatus, reported: OrderStatus
) -> None:
    # Arrange
    fsm = _fsm_at(current)
    # Act / Assert
    with pytest.raises(InvalidTransition, match=f"^{current} -> {reported}$"):
        fsm.apply(reported)
    assert fsm.state == current


def test_apply_when_pair_is_missing_from_table_then_every_such_pair_raises_and_keeps_state() -> None:
    missing = [(a, b) for a in ALL_STATUSES for b in ALL_STATUSES if (a, b) not in ORDER_TRANSITIONS]
    assert len(missing) > 40  # the table is a whitelist, not "anything goes"
    for current, reported in missing:
        fsm = _fsm_at(current)
        with pytest.raises(InvalidTransition):
            fsm.apply(reported)
        assert fsm.state == current


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        ("canceled", "partially_filled", "canceled"),
        ("canceled", "filled", "filled"),
        ("expired", "partially_filled", "expired"),
        ("expired", "filled", "filled"),
        ("pending_cancel", "partially_filled", "pending_cancel"),
        ("pending_cancel", "filled", "filled"),
    ],
)
def test_apply_when_fill_arrives_after_cancel_or_expiry_then_is_accepted(
    current: OrderStatus, reported: OrderStatus, expected: OrderStatus
) -> None:
    # Arrange
    fsm = _fsm_at(current)
    # Act
    result = fsm.apply(reported)
    # Assert
    assert result == expected
    assert fsm.state == expected


def test_apply_when_fill_overtakes_the_ack_then_pending_new_goes_straight_to_filled() -> None:
    fsm = OrderFSM()
    assert fsm.apply("filled") == "filled"


@pytest.mark.parametrize("status", ["filled", "canceled", "expired", "rejected", "replaced"])
def test_is_terminal_when_order_finished_then_true(status: OrderStatus) -> None:
    assert _fsm_at(status).is_terminal


@pytest.mark.parametrize("status", ["pending_new", "new", "partially_filled", "pending_cancel"])
def test_is_terminal_when_order_still_working_then_false(status: OrderStatus) -> None:
    assert not _fsm_at(status).is_terminal


def test_table_when_read_then_uses_only_wire_statuses() -> None:
    for (current, reported), result in ORDER_TRANSITIONS.items():
        assert {current, reported, result} <= set(ALL_STATUSES)
