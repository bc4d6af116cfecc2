"""broker_market: the part of a batch risk carries to execution's simulated broker. Shown only that part, the
broker must report exactly what it reports when shown the whole batch, whenever the symbols given hold
every order it still works (risk's pending orders always do)."""

from __future__ import annotations

from decimal import Decimal
from operator import itemgetter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from risk_fakes import NS, SESSION_START_NS, real_closes

from actors.execution.sim_broker import SimBroker
from actors.risk.batch import MarketItem, broker_market
from cluster.foundation.domain.wire import Bar, OrderIntent, OrderUpdate, Quote, Trade

SYMBOLS = ("SPY", "IBM", "BAC", "AIG")

_item = st.tuples(st.integers(0, len(SYMBOLS) - 1), st.integers(0, 59), st.integers(0, 300),
                  st.sampled_from(("bar", "quote", "trade")))
_order = st.tuples(st.integers(0, len(SYMBOLS) - 1), st.sampled_from(("buy", "sell")),
                   st.sampled_from(("market", "limit")), st.sampled_from(("day", "ioc", "gtc")), st.integers(1, 400))
_batch = st.tuples(st.lists(_order, max_size=3), st.lists(_item, max_size=12),
                   st.sampled_from((60, 60, 3_600, 86_400)))


def _items(spec: list[tuple[int, int, int, str]], base: int) -> list[MarketItem]:
    out: list[MarketItem] = []
    for sym, second, row, kind in sorted(spec, key=itemgetter(0)):  # grouped by symbol, as the shards send
        symbol, ts = SYMBOLS[sym], base + second * NS
        price = real_closes(symbol)[row]
        if kind == "bar":
            out.append(Bar(symbol, ts, price, price * 1.001, price * 0.999, price, 1_000.0))
        elif kind == "quote":
            out.append(Quote(symbol, ts, price - 0.01, 150.0, price + 0.01, 150.0))
        else:
            out.append(Trade(symbol, ts, price, 120.0))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_batch, min_size=1, max_size=10))
def test_sim_broker_when_shown_only_the_broker_market_then_it_reports_what_the_whole_batch_gives(
    batches: list[tuple[list[Any], list[Any], int]],
) -> None:
    # Arrange
    whole, part = SimBroker(Decimal(2)), SimBroker(Decimal(2))
    base = SESSION_START_NS
    n = 0
    for orders, item_spec, gap_s in batches:
        intents = []
        for sym, side, kind, tif, qty in orders:
            n += 1
            symbol = SYMBOLS[sym]
            limit = Decimal(repr(round(real_closes(symbol)[0], 2))) if kind == "limit" else None
            intents.append(OrderIntent(client_order_id=f"tc-{n}", symbol=symbol, side=side, qty=Decimal(qty),
                                       order_type=kind, time_in_force=tif, ts_ns=base, batch=n,
                                       correlation_id=f"c{n}", limit_price=limit))
        items = _items(item_spec, base)

        # Act
        got: list[list[OrderUpdate]] = []
        for broker, shown in ((whole, None), (part, "part")):
            updates = [u for i in intents for u in broker.submit(i)]
            if shown is None:
                updates += broker.on_market(items)
            else:
                working = {u.symbol for u in broker.open_orders()}
                updates += broker.on_market(broker_market(items, working))
            got.append(updates)

        # Assert
        assert got[0] == got[1]
        assert whole.open_orders() == part.open_orders()
        base += gap_s * NS


def test_broker_market_when_symbols_are_given_then_their_items_and_the_last_and_latest_item_are_kept() -> None:
    # Arrange: shard order, not time order: the latest item is not the last
    t = SESSION_START_NS
    items: list[MarketItem] = [Bar("SPY", t + 2 * NS, 1, 1, 1, 1, 1), Bar("IBM", t, 2, 2, 2, 2, 1),
                               Trade("IBM", t + 3 * NS, 2, 1), Bar("BAC", t + 4 * NS, 3, 3, 3, 3, 1),
                               Bar("AIG", t + NS, 4, 4, 4, 4, 1)]

    # Act
    kept = broker_market(items, {"IBM"})

    # Assert
    assert kept == [items[1], items[2], items[3], items[4]]
    assert broker_market([], {"IBM"}) == []
    assert broker_market(items, set()) == [items[3], items[4]]
