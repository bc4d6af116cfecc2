"""Assets from the served data, unknown symbols refused, and every error an APIError can parse."""

from __future__ import annotations

import csv

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import AssetClass, AssetExchange, DTBPCheck, OrderSide, TimeInForce
from alpaca.trading.requests import (
    CreateWatchlistRequest,
    GetAssetsRequest,
    GetOrdersRequest,
    MarketOrderRequest,
    UpdateWatchlistRequest,
)

from tests.alpaca.conftest import QUOTE_BARS, TRADE_BARS, RunningSim, trading_client


def _symbols_in_data() -> set[str]:
    found: set[str] = set()
    for path in (TRADE_BARS, QUOTE_BARS):
        with path.open(newline="") as fh:
            found.update(row["symbol"] for row in csv.DictReader(fh))
    return found


def test_assets_when_listed_then_exactly_the_symbols_the_data_serves(sim: RunningSim) -> None:
    assets = trading_client(sim).get_all_assets(GetAssetsRequest(asset_class=AssetClass.US_EQUITY))
    assert {a.symbol for a in assets} == _symbols_in_data()
    assert all(a.tradable and a.fractionable and a.shortable and a.marginable for a in assets)


def test_asset_when_asked_by_symbol_or_id_then_the_same_asset(sim: RunningSim) -> None:
    client = trading_client(sim)
    spy = client.get_asset("SPY")
    assert (spy.symbol, spy.exchange, spy.asset_class) == ("SPY", AssetExchange.ARCA, AssetClass.US_EQUITY)
    assert client.get_asset(spy.id).symbol == "SPY"


def test_asset_when_symbol_is_unknown_then_404_with_code(sim: RunningSim) -> None:
    with pytest.raises(APIError) as info:
        trading_client(sim).get_asset("ZZZZ")
    assert info.value.status_code == 404 and info.value.code == 40410000


def test_order_when_symbol_is_unknown_then_422_naming_it_and_nothing_is_created(sim: RunningSim) -> None:
    client = trading_client(sim)
    with pytest.raises(APIError) as info:
        client.submit_order(MarketOrderRequest(symbol="ZZZZ", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    assert info.value.status_code == 422 and info.value.code == 42210000 and "ZZZZ" in info.value.message
    assert client.get_orders(GetOrdersRequest(status="all")) == []


@pytest.mark.parametrize("path", ["/v2/account/activities", "/v2/watchlists:by_name?name=x",
                                  "/v2/corporate_actions/announcements", "/v2/options/contracts"])
def test_endpoint_when_not_modelled_then_json_422_naming_it(sim: RunningSim, path: str) -> None:
    status, _, body = sim.raw("GET", path)
    assert status == 422 and body["code"] == 42210000 and "not supported by this simulator" in body["message"]


def test_configurations_when_patched_then_read_back(sim: RunningSim) -> None:
    client = trading_client(sim)
    current = client.get_account_configurations()
    assert current.dtbp_check == DTBPCheck.ENTRY and current.no_shorting is False
    changed = client.set_account_configurations(current.model_copy(update={"dtbp_check": DTBPCheck.BOTH}))
    assert changed.dtbp_check == DTBPCheck.BOTH
    assert client.get_account_configurations().dtbp_check == DTBPCheck.BOTH


def test_watchlist_when_created_changed_and_deleted_then_each_step_reads_back(sim: RunningSim) -> None:
    client = trading_client(sim)
    created = client.create_watchlist(CreateWatchlistRequest(name="banks", symbols=["BAC", "AIG"]))
    assert [a.symbol for a in created.assets or []] == ["BAC", "AIG"]
    client.add_asset_to_watchlist_by_id(created.id, "IBM")
    client.remove_asset_from_watchlist_by_id(created.id, "AIG")
    assert [a.symbol for a in client.get_watchlist_by_id(created.id).assets or []] == ["BAC", "IBM"]
    renamed = client.update_watchlist_by_id(created.id, UpdateWatchlistRequest(name="big", symbols=["SPY"]))
    assert renamed.name == "big" and [a.symbol for a in renamed.assets or []] == ["SPY"]
    assert [w.name for w in client.get_watchlists()] == ["big"]
    client.delete_watchlist_by_id(created.id)
    assert client.get_watchlists() == []


def test_watchlist_when_symbol_is_unknown_then_422_and_nothing_is_created(sim: RunningSim) -> None:
    client = trading_client(sim)
    with pytest.raises(APIError) as info:
        client.create_watchlist(CreateWatchlistRequest(name="x", symbols=["SPY", "ZZZZ"]))
    assert info.value.code == 42210000 and "ZZZZ" in info.value.message
    assert client.get_watchlists() == []
