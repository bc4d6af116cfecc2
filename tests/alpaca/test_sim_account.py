"""The paper account is a margin account (Alpaca's default): multiplier, buying powers, short sales;
crypto keeps its own rules (gtc/ioc only, never short, bought with cash)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, PositionSide, TimeInForce
from alpaca.trading.requests import GetPortfolioHistoryRequest, LimitOrderRequest, MarketOrderRequest

from alpaca_sim.data import load_timeline
from tests.alpaca.conftest import (
    DATA,
    QUOTE_BARS,
    TRADE_BARS,
    RunningSim,
    TradeEvents,
    csv_row,
    start_sim,
    trading_client,
)

CRYPTO_QUOTES = DATA / "crypto_minute_quote_bars_coinbase.csv"


def _sell(qty: int) -> MarketOrderRequest:
    return MarketOrderRequest(symbol="SPY", qty=qty, side=OrderSide.SELL, time_in_force=TimeInForce.DAY)


def test_account_when_fresh_then_margin_4x_with_shorting_and_day_trading_buying_power(sim: RunningSim) -> None:
    account = trading_client(sim).get_account()
    cash = Decimal(1_000_000)
    assert account.multiplier == "4" and account.shorting_enabled is True
    assert Decimal(account.regt_buying_power or "0") == 2 * cash
    assert Decimal(account.daytrading_buying_power or "0") == 4 * cash
    assert Decimal(account.buying_power or "0") == 4 * cash
    assert Decimal(account.non_marginable_buying_power or "0") == cash


def test_account_when_equity_below_25000_then_multiplier_2() -> None:
    running, stop = start_sim(initial_cash=Decimal(20_000))
    try:
        account = trading_client(running).get_account()
        assert account.multiplier == "2" and Decimal(account.buying_power or "0") == Decimal(40_000)
        assert Decimal(account.daytrading_buying_power or "0") == 0
    finally:
        stop()


def test_short_sale_when_no_position_then_fills_at_the_bid_and_position_is_short(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T13:32:00Z"})
    bid = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["bid_close"])
    client.submit_order(_sell(100))
    got = events.wait_for(2)
    assert [e["event"] for e in got] == ["new", "fill"] and got[1]["position_qty"] == "-100"
    position = client.get_open_position("SPY")
    assert position.side == PositionSide.SHORT and position.qty == "-100"
    account = client.get_account()
    assert Decimal(account.cash) == Decimal(1_000_000) + 100 * bid
    assert Decimal(account.short_market_value or "0") < 0 and Decimal(account.initial_margin or "0") > 0
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    events.wait_for(4)
    assert client.get_all_positions() == []


def test_short_sale_when_beyond_buying_power_then_403_with_the_numbers(sim: RunningSim) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T13:32:00Z"})
    with pytest.raises(APIError) as info:
        client.submit_order(_sell(30_000))  # about 5.0M of SPY against 4.0M of buying power
    assert info.value.status_code == 403 and info.value.code == 40310000
    assert info.value.message == "insufficient buying power"


def test_short_sale_when_cash_account_then_403_insufficient_qty() -> None:
    running, stop = start_sim(account_type="cash")
    try:
        client = trading_client(running)
        running.admin("/admin/step", {"until": "2013-10-07T13:32:00Z"})
        assert client.get_account().multiplier == "1" and client.get_account().shorting_enabled is False
        with pytest.raises(APIError) as info:
            client.submit_order(_sell(1))
        assert info.value.status_code == 403 and "insufficient qty available" in info.value.message
    finally:
        stop()


@pytest.fixture
def crypto_sim() -> Iterator[RunningSim]:
    running, stop = start_sim(events=load_timeline([CRYPTO_QUOTES]), start="2018-04-04T00:10:00Z")
    yield running
    stop()


@pytest.mark.parametrize("tif", [TimeInForce.DAY, TimeInForce.OPG, TimeInForce.CLS, TimeInForce.FOK])
def test_crypto_order_when_time_in_force_is_not_gtc_or_ioc_then_422(crypto_sim: RunningSim, tif: TimeInForce) -> None:
    with pytest.raises(APIError) as info:
        trading_client(crypto_sim).submit_order(MarketOrderRequest(symbol="BTC/USD", qty=0.01, side=OrderSide.BUY,
                                                                  time_in_force=tif))
    assert info.value.status_code == 422 and str(tif.value) in info.value.message


def test_crypto_position_when_addressed_with_its_slash_then_found_and_never_short(crypto_sim: RunningSim) -> None:
    client = trading_client(crypto_sim)
    crypto_sim.admin("/admin/step", {"until": "2018-04-04T00:12:00Z"})
    client.submit_order(MarketOrderRequest(symbol="BTC/USD", qty=0.5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC))
    assert client.get_open_position("BTC/USD").qty == "0.5"
    assert client.get_open_position("BTCUSD").symbol == "BTCUSD"
    with pytest.raises(APIError) as info:
        client.submit_order(MarketOrderRequest(symbol="BTC/USD", qty=1, side=OrderSide.SELL,
                                               time_in_force=TimeInForce.GTC))
    assert info.value.status_code == 403 and "insufficient qty available" in info.value.message


def test_crypto_buy_when_beyond_cash_then_403_even_on_a_margin_account(crypto_sim: RunningSim) -> None:
    limit = LimitOrderRequest(symbol="BTC/USD", qty=200, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                              limit_price=7000)  # 1.4M of bitcoin against 1.0M of cash
    with pytest.raises(APIError) as info:
        trading_client(crypto_sim).submit_order(limit)
    assert info.value.status_code == 403 and info.value.message == "insufficient buying power"


def test_portfolio_history_when_holding_spy_then_each_minute_is_marked_at_its_bar_close(
    sim: RunningSim, events: TradeEvents
) -> None:
    client = trading_client(sim)
    sim.admin("/admin/step", {"until": "2013-10-07T13:32:00Z"})
    ask = Decimal(csv_row(QUOTE_BARS, "SPY", "2013-10-07T13:31:00Z")["ask_close"])
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    events.wait_for(2)
    sim.admin("/admin/step", {"until": "2013-10-07T14:00:00Z"})
    history = client.get_portfolio_history(GetPortfolioHistoryRequest(period="1D", timeframe="1Min"))
    first = int(datetime(2013, 10, 7, 13, 30, tzinfo=UTC).timestamp())
    assert history.timestamp == [first + 60 * i for i in range(30)] and history.base_value == 1_000_000
    closes = {m: Decimal(csv_row(TRADE_BARS, "SPY", f"2013-10-07T13:{m:02d}:00Z")["close"]) for m in range(32, 60)}
    expected = [0.0, 0.0] + [float(100 * (closes[m] - ask)) for m in range(32, 60)]
    assert history.profit_loss == pytest.approx(expected)
