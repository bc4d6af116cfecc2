"""Historical minute bars over Alpaca's data REST API, to backfill what a websocket outage missed.

GET /v2/stocks/bars (or /v1beta3/crypto/{loc}/bars) with symbols, timeframe=1Min, start, end,
sort=asc; pages are followed through next_page_token until it is null (alpaca-protocol.md A3).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec

from actors.market_data.alpaca_feed_parse import rfc3339_to_ns
from cluster.foundation.domain.errors import DependencyDown, TemporaryError
from cluster.foundation.domain.wire import Bar

NS_PER_S = 1_000_000_000


class _HistBar(msgspec.Struct, frozen=True, kw_only=True, rename={
        "open": "o", "high": "h", "low": "l", "close": "c", "volume": "v", "trade_count": "n", "vwap": "vw"}):
    """One bar of Alpaca's historical bars answer: its time, its prices, then what traded."""

    t: str
    open: float
    high: float
    low: float
    close: float
    vwap: float | None = None
    volume: float
    trade_count: int | None = None


class _BarsPage(msgspec.Struct, frozen=True):
    bars: dict[str, list[_HistBar]] | None = None
    next_page_token: str | None = None


_page_decoder = msgspec.json.Decoder(_BarsPage)


def rfc3339_from_ns(ts_ns: int) -> str:
    """2013-10-07T13:30:00.000000001Z: nanoseconds kept, so start/end bounds are exact."""
    seconds, nanos = divmod(ts_ns, NS_PER_S)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


def bars_path(crypto: bool, crypto_location: str) -> str:
    return f"/v1beta3/crypto/{crypto_location}/bars" if crypto else "/v2/stocks/bars"


def parse_bars_page(body: bytes) -> tuple[list[Bar], str | None]:
    """One page -> wire bars (backfilled=True) and the next page token."""
    try:
        page = _page_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise TemporaryError(f"historical bars answer is unusable: {exc}: {body[:160]!r}") from exc
    bars = [
        Bar(symbol, rfc3339_to_ns(b.t), b.open, b.high, b.low, b.close, b.volume, b.trade_count, b.vwap, True)
        for symbol, rows in (page.bars or {}).items()
        for b in rows
    ]
    return bars, page.next_page_token


async def fetch_bars(
    session: aiohttp.ClientSession,
    base_url: str,
    headers: dict[str, str],
    *,
    symbols: Sequence[str],
    start_ns: int,
    end_ns: int,
    crypto: bool,
    crypto_location: str = "us",
    feed: str = "iex",
    page_limit: int = 10_000,
    timeout_s: float = 10.0,
) -> list[Bar]:
    """Every 1Min bar of `symbols` with start_ns <= ts <= end_ns, across all pages."""
    url = base_url.rstrip("/") + bars_path(crypto, crypto_location)
    params: dict[str, Any] = {
        "symbols": ",".join(sorted(set(symbols))), "timeframe": "1Min", "start": rfc3339_from_ns(start_ns),
        "end": rfc3339_from_ns(end_ns), "limit": str(page_limit), "sort": "asc",
    }
    if not crypto:
        params["feed"] = feed
    bars: list[Bar] = []
    while True:
        try:
            async with session.get(url, params=params, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                body = await response.read()
                if response.status != 200:
                    raise TemporaryError(f"GET {url}: HTTP {response.status}: {body[:200]!r}")
        except aiohttp.ClientConnectorError as exc:
            raise DependencyDown(f"historical bars unreachable at {url}: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryError(f"GET {url} failed: {exc!r}") from exc
        page, token = parse_bars_page(body)
        bars.extend(page)
        if not token:
            return bars
        params["page_token"] = token
