

def test_has_intent_when_recorded_then_true_also_after_reopen(db_url, tmp_path):
    # Arrange
    from decimal import Decimal

    from cluster.foundation.domain.wire import OrderIntent
    from cluster.foundation.storage.db import SqlRepository, upgrade

    upgrade(db_url)
    intent = OrderIntent(client_order_id="tc-SPY-1-abc", symbol="SPY", side="buy", qty=Decimal(3),
                         order_type="market", time_in_force="day", ts_ns=1_381_152_600_000_000_000, batch=1,
                         correlation_id="SPY@1")
    repo = SqlRepository(db_url, tmp_path / "j1")
    # Act
    before = repo.has_intent(intent.client_order_id)
    repo.record_intent(intent)
    repo.close()
    reopened = SqlRepository(db_url, tmp_path / "j2")
    # Assert
    assert before is False
    assert reopened.has_intent(intent.client_order_id) is True
    assert reopened.has_intent("tc-SPY-2-def") is False
    reopened.close()
