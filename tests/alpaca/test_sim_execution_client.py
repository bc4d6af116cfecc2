"""The execution actor's own Alpaca client (AlpacaBroker) through the simulator's session rules,
asset checks and errors: the same order lifecycle the alpaca-py tests show."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from actors.execution.alpaca_broker import AlpacaBroker
from tests.alpaca.conftest import QUOTE_BARS, RunningSim, csv_row
from tests.alpaca.test_broker_orders import intent, through_core, wait_core, wait_updates


def test_broker_market_order_when_sent_at_0929_then_filled_on_the_first_regular_minute(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:29:00Z"})
    with AlpacaBroker(sim.client_config()) as broker:
        core = through_core(broker)
        acks = core.submit([intent("pre-1", "5")])
        sim.admin("/admin/step", {"until": "2013-10-07T13:30:00Z"})
        assert [u.status for u in acks + core.poll()[0]] == ["new"]  # the 09:29 bar is pre-market
        sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
        updates = wait_core(core, "filled")
    fill = updates[-1]
    assert fill.filled_qty == 5 and fill.filled_avg_price == Decimal(
        csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:30:00Z")["ask_close"])


def test_broker_day_limit_when_the_close_passes_then_expired_update(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T19:50:00Z"})
    with AlpacaBroker(sim.client_config()) as broker:
        broker.submit(intent("eod-1", "5", "limit", limit="150"))
        sim.admin("/admin/step", {"until": "2013-10-07T20:01:00Z"})
        updates = wait_updates(broker, "expired")
    assert updates[-1].client_order_id == "eod-1" and updates[-1].filled_qty == 0


def test_broker_order_when_symbol_is_unknown_then_rejected_update_naming_it(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    with AlpacaBroker(sim.client_config(), stream=False) as broker:
        updates = broker.submit(msgspec.structs.replace(intent("zz-1", "1"), symbol="ZZZZ"))
    assert [u.status for u in updates] == ["rejected"] and "ZZZZ" in (updates[0].reason or "")
