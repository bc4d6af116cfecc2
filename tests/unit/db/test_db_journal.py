"""The outage journal: ordered, durable frames; a torn tail is cut, never misread."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cluster.foundation.domain.records import AuditRecord, PositionRow
from cluster.foundation.domain.wire import OrderUpdate
from cluster.foundation.storage.db.journal import Journal
from cluster.foundation.storage.db.ops import AuditOp, FillOp, PositionsOp

T0 = 1_381_152_600_000_000_000


def _ops() -> list[object]:
    fill = OrderUpdate(client_order_id="tc-SPY-1", broker_order_id="b1", symbol="SPY", side="buy", status="filled",
                       qty=Decimal(10), filled_qty=Decimal(10), ts_ns=T0, filled_avg_price=Decimal("167.44"),
                       last_fill_qty=Decimal(10), last_fill_price=Decimal("167.44"), fill_id="f1")
    position = PositionRow(symbol="SPY", quantity=Decimal(10), entry_price=Decimal("167.44"),
                           current_price=Decimal("167.52"), unrealized_pnl=Decimal("0.80"), realized_pnl=Decimal(0),
                           opened_at_ns=T0, updated_at_ns=T0)
    return [FillOp(seq=1, update=fill), PositionsOp(seq=2, rows=[position], at_ns=T0),
            AuditOp(seq=3, record=AuditRecord(action="a", caller="c", reason="r", occurred_at_ns=T0,
                                              details={"n": 1}))]


def test_journal_when_reopened_then_ops_come_back_in_order_and_equal(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "j.journal"
    journal = Journal(path)
    journal.append(_ops()[:2])
    journal.append(_ops()[2:])
    journal.close()

    # Act
    reopened = Journal(path)
    ops, _ = reopened.read_next(10)

    # Assert
    assert ops == _ops()
    assert reopened.max_seq == 3


def test_journal_when_last_frame_is_torn_then_it_is_cut_and_earlier_frames_kept(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "j.journal"
    journal = Journal(path)
    journal.append(_ops())
    journal.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-5])  # crash in the middle of the last frame

    # Act
    reopened = Journal(path)
    ops, _ = reopened.read_next(10)

    # Assert
    assert ops == _ops()[:2]
    assert reopened.max_seq == 2
    assert path.stat().st_size < len(whole) - 5


def test_journal_when_everything_is_consumed_then_file_is_emptied(tmp_path: Path) -> None:
    # Arrange
    journal = Journal(tmp_path / "j.journal")
    journal.append(_ops())
    first, offset = journal.read_next(2)

    # Act
    journal.consume(offset)
    rest, end = journal.read_next(10)
    partly = journal.size()
    journal.consume(end)

    # Assert
    assert (first, rest) == (_ops()[:2], _ops()[2:])
    assert partly > 0 and journal.size() == 0 and not journal.unread()
