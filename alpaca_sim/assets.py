"""The assets the simulator can trade: every symbol of the data it serves (GET /v2/assets).

Orders for anything else are refused with 422, as Alpaca refuses a symbol it does not know.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from alpaca_sim.data import is_crypto
from alpaca_sim.jsonio import json_response
from alpaca_sim.models import CODE_NOT_FOUND, CODE_UNPROCESSABLE, CODE_VALIDATION, SimRejection

_EXCHANGES = {"SPY": "ARCA", "QQQ": "NASDAQ", "AAPL": "NASDAQ", "IBM": "NYSE", "BAC": "NYSE", "AIG": "NYSE"}
_NAMES = {
    "SPY": "SPDR S&P 500 ETF Trust", "QQQ": "Invesco QQQ Trust, Series 1", "AAPL": "Apple Inc. Common Stock",
    "IBM": "International Business Machines Corporation Common Stock",
    "BAC": "Bank of America Corporation Common Stock", "AIG": "American International Group, Inc. New Common Stock",
    "BTC/USD": "Bitcoin / US Dollar", "ETH/USD": "Ethereum / US Dollar", "LTC/USD": "Litecoin / US Dollar",
}


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}"))


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str

    @property
    def crypto(self) -> bool:
        return is_crypto(self.symbol)

    def json(self) -> dict[str, Any]:
        crypto = self.crypto
        body: dict[str, Any] = {
            "id": asset_id(self.symbol), "class": "crypto" if crypto else "us_equity",
            "exchange": "CRYPTO" if crypto else _EXCHANGES.get(self.symbol, "NYSE"), "symbol": self.symbol,
            "name": _NAMES.get(self.symbol, self.symbol), "status": "active", "tradable": True,
            "marginable": not crypto, "maintenance_margin_requirement": 100 if crypto else 30,
            "margin_requirement_long": "100" if crypto else "50", "margin_requirement_short": "100" if crypto else "50",
            "shortable": not crypto, "easy_to_borrow": not crypto, "fractionable": True, "attributes": [],
        }
        if crypto:
            body.update({"min_order_size": "0.000000002", "min_trade_increment": "0.000000001",
                         "price_increment": "0.000000001"})
        return body


class AssetBook:
    def __init__(self, symbols: Iterable[str]) -> None:
        self._by_symbol = {s: Asset(s) for s in sorted(set(symbols))}
        self._by_id = {asset_id(s): a for s, a in self._by_symbol.items()}
        self._compact = {s.replace("/", ""): a for s, a in self._by_symbol.items() if is_crypto(s)}

    def all(self) -> list[Asset]:
        return list(self._by_symbol.values())

    def find(self, symbol_or_id: str) -> Asset | None:
        return self._by_symbol.get(symbol_or_id) or self._compact.get(symbol_or_id) or self._by_id.get(symbol_or_id)

    def for_order(self, symbol: str) -> Asset:
        asset = self.find(symbol)
        if asset is None:
            kind = "crypto" if is_crypto(symbol) else "us_equity"
            raise SimRejection(422, CODE_UNPROCESSABLE, f"could not find {kind} asset {symbol}")
        return asset


ASSETS: web.AppKey[AssetBook] = web.AppKey("assets", AssetBook)


def routes() -> list[web.RouteDef]:
    return [web.get("/v2/assets", list_assets), web.get("/v2/assets/{symbol:.+}", get_asset)]


async def list_assets(request: web.Request) -> web.Response:
    query = request.query
    status = query.get("status", "active")
    asset_class = query.get("asset_class", "")
    if status not in ("active", "inactive", ""):
        raise SimRejection(422, CODE_VALIDATION, f"invalid status: {status[:40]!r}")
    if asset_class not in ("", "us_equity", "crypto", "us_option"):
        raise SimRejection(422, CODE_VALIDATION, f"invalid asset_class: {asset_class[:40]!r}")
    exchange = query.get("exchange", "")
    chosen = [a.json() for a in request.app[ASSETS].all()
              if status != "inactive" and (not asset_class or a.json()["class"] == asset_class)
              and (not exchange or a.json()["exchange"] == exchange)]
    return json_response(chosen)


async def get_asset(request: web.Request) -> web.Response:
    symbol = request.match_info["symbol"]
    asset = request.app[ASSETS].find(symbol)
    if asset is None:
        raise SimRejection(404, CODE_NOT_FOUND, f"asset not found for {symbol[:40]}")
    return json_response(asset.json())
