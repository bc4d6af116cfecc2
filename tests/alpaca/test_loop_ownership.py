"""The Alpaca adapters run on the thread that drives them: no thread of their own hands frames, order
answers or fills to the actor's loop (docs/architecture.md, the walk of one live bar)."""

from __future__ import annotations

import threading
from decimal import Decimal

from actors.execution.alpaca_broker import AlpacaBroker
from actors.market_data.alpaca_feed import AlpacaFeed
from actors.market_data.alpaca_feed_parse import FeedItem
from cluster.foundation.domain.wire import Bar, OrderIntent
from tests.alpaca.conftest import RunningSim
from tests.alpaca.feed_support import drain, feed_config
from tests.alpaca.test_broker_orders import through_core, wait_core


def test_broker_when_an_order_fills_over_the_stream_then_no_thread_was_added_and_updates_arrive_in_poll(
        sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    before = set(threading.enumerate())
    with AlpacaBroker(sim.client_config()) as broker:
        core = through_core(broker)
        core.submit([OrderIntent(
            client_order_id="own-1", symbol="SPY", side="buy", qty=Decimal(5), order_type="market",
            time_in_force="day", ts_ns=0, batch=1, correlation_id="corr-own-1")])
        updates = wait_core(core, "filled")  # the fill comes on trade_updates, read while this thread polls
        added = set(threading.enumerate()) - before
    assert updates[-1].status == "filled"
    assert added == set(), f"the broker started threads: {[t.name for t in added]}"


def test_feed_when_bars_stream_in_then_no_thread_was_added_and_they_arrive_in_poll(sim: RunningSim) -> None:
    before = set(threading.enumerate())
    feed = AlpacaFeed(feed_config(sim, bars=("SPY",))).start()
    try:
        assert feed.wait_connected(5)
        sim.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
        items: list[FeedItem] = drain(feed, [], lambda got: any(isinstance(i, Bar) for i in got))
        added = set(threading.enumerate()) - before
    finally:
        feed.stop()
    assert any(isinstance(i, Bar) and i.symbol == "SPY" for i in items)
    assert added == set(), f"the feed started threads: {[t.name for t in added]}"
