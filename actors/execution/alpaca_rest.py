"""Async Alpaca REST v2 trading calls with the request budget, error translation and retries.

Only calls that are safe to repeat are retried (reads, cancels). An order POST is never sent
twice blindly: after a timeout, 5xx or 429 the client first asks GET /v2/orders:by_client_order_id,
and sends again (with the same client_order_id) only when the broker has no such order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import aiohttp
from pydantic import SecretStr

from actors.execution.alpaca_errors import (
    CODE_DUPLICATE_OR_INVALID,
    NotFound,
    error_code,
    translate_http_error,
)
from actors.execution.alpaca_secrets import AlpacaKeys
from actors.execution.rate_limit import AsyncRequestBudget
from cluster.foundation.domain.errors import (
    ConfigError,
    DependencyDown,
    OrderRejected,
    RateLimited,
    TemporaryError,
)
from cluster.foundation.domain.settings import AlpacaSettings

log = logging.getLogger(__name__)
_RETRYABLE = (TemporaryError, DependencyDown)


@dataclass(frozen=True, slots=True)
class AlpacaConfig(AlpacaKeys):
    """An Alpaca config: keys, and the URLs they are sent to, sealed on construction (see AlpacaKeys)."""

    # the cluster's own simulator, with keys made for this run: plain HTTP inside the cluster network
    own_simulator: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        self._seal(self.key_urls())

    def key_urls(self) -> dict[str, str]:
        """{what: url} for every URL that receives the keys."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class AlpacaClientConfig(AlpacaConfig):
    """Keys are SecretStr (plain strings are wrapped); remote URLs must use TLS (ConfigError)."""

    trading_url: str
    key_id: SecretStr
    secret_key: SecretStr
    rate_limit: int = 200  # requests per window (Alpaca: 200/min per account)
    rate_window_s: float = 60.0
    attempts: int = 3
    backoff_base_s: float = 0.25
    backoff_max_s: float = 4.0
    timeout_s: float = 10.0
    stream_url: str | None = None  # default: trading_url with ws scheme + /stream
    reconnect_max_s: float = 30.0

    @property
    def trade_stream_url(self) -> str:
        if self.stream_url:
            return self.stream_url
        return self.trading_url.replace("https://", "wss://").replace("http://", "ws://").rstrip("/") + "/stream"

    def key_urls(self) -> dict[str, str]:
        return {"alpaca trading_url": self.trading_url, "alpaca trade stream URL": self.trade_stream_url}

    @classmethod
    def from_settings(cls, settings: AlpacaSettings) -> AlpacaClientConfig:
        if settings.key_id is None or settings.secret_key is None:
            raise ConfigError("alpaca.key_id and alpaca.secret_key are required for the alpaca broker")
        return cls(settings.trading_url, settings.key_id, settings.secret_key, own_simulator=settings.simulated)


@dataclass(eq=False)
class AlpacaRest:
    config: AlpacaClientConfig
    session: aiohttp.ClientSession
    budget: AsyncRequestBudget
    _: KW_ONLY
    jitter: Callable[[], float] = random.random
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    post_attempts: int = field(default=0, init=False)  # order POSTs actually sent (observability and tests)
    # failed calls by (HTTP status, Alpaca code): running totals behind alpaca_api_errors_total
    error_counts: Counter[tuple[str, str]] = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        self._headers = self.config.auth_headers()

    # ---- one attempt ----------------------------------------------------------------------
    async def _send(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    body: dict[str, Any] | None = None) -> Any:
        await self.budget.acquire()
        what = f"{method} {path}"
        url = self.config.trading_url.rstrip("/") + path
        try:
            async with self.session.request(
                method, url, params=params, json=body, headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    self.error_counts[(str(response.status), str(error_code(text)[0] or "none"))] += 1
                    error = translate_http_error(response.status, text, response.headers, what, time.time())
                    if isinstance(error, RateLimited):
                        self.budget.pause_for(error.retry_after_s)
                    raise error
                if response.status == 204 or not text:
                    return None
                return json.loads(text)
        except TimeoutError as exc:
            raise TemporaryError(f"{what}: no answer within {self.config.timeout_s}s") from exc
        except aiohttp.ClientConnectorError as exc:
            raise DependencyDown(f"{what}: Alpaca unreachable at {self.config.trading_url}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise TemporaryError(f"{what}: connection failed mid-request: {exc}") from exc
        except ValueError as exc:
            raise TemporaryError(f"{what}: answer is not JSON: {exc}") from exc

    async def _backoff(self, attempt: int, error: Exception) -> None:
        if isinstance(error, RateLimited):
            return  # the budget is paused until the server's reset; acquire() waits
        delay = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**attempt)
        await self.sleep(delay * (0.5 + self.jitter() / 2))

    async def _retrying(self, method: str, path: str, *, params: dict[str, str] | None = None) -> Any:
        last: Exception | None = None
        for attempt in range(self.config.attempts):
            try:
                return await self._send(method, path, params=params)
            except _RETRYABLE as exc:
                log.warning("attempt %d of %s %s failed: %s", attempt + 1, method, path, exc)
                last = exc
                if attempt + 1 < self.config.attempts:
                    await self._backoff(attempt, exc)
        assert last is not None
        raise last

    # ---- reads -------------------------------------------------------------------------------
    async def account(self) -> dict[str, Any]:
        return await self._retrying("GET", "/v2/account")

    async def clock(self) -> dict[str, Any]:
        return await self._retrying("GET", "/v2/clock")

    async def positions(self) -> list[dict[str, Any]]:
        return await self._retrying("GET", "/v2/positions")

    async def list_orders(self, status: str = "open", limit: int = 500) -> list[dict[str, Any]]:
        return await self._retrying("GET", "/v2/orders", params={"status": status, "limit": str(limit)})

    async def order_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        try:
            return await self._retrying(
                "GET", "/v2/orders:by_client_order_id", params={"client_order_id": client_order_id}
            )
        except NotFound:
            return None

    # ---- writes ------------------------------------------------------------------------------
    async def submit_order(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST once; after a doubtful failure look the order up before sending it again."""
        cid = payload["client_order_id"]
        last: Exception | None = None
        for attempt in range(self.config.attempts):
            if attempt > 0:
                try:
                    existing = await self._send(
                        "GET", "/v2/orders:by_client_order_id", params={"client_order_id": cid}
                    )
                    log.info("order %s already exists after a failed submit; not sending again", cid)
                    return existing
                except NotFound:
                    pass  # the broker never saw it: sending again is safe
                except _RETRYABLE as exc:
                    last = exc
                    await self._backoff(attempt, exc)
                    continue  # cannot tell whether it exists: do not send
            try:
                self.post_attempts += 1
                return await self._send("POST", "/v2/orders", body=payload)
            except OrderRejected as exc:
                if exc.code != str(CODE_DUPLICATE_OR_INVALID):
                    raise
                # 40010001 is also every other validation error: only an existing order resolves it
                found = await self.order_by_client_id(cid)
                if found is None:
                    raise
                return found
            except _RETRYABLE as exc:
                log.warning("submit %s attempt %d failed: %s", cid, attempt + 1, exc)
                last = exc
                if attempt + 1 < self.config.attempts:
                    await self._backoff(attempt, exc)
        assert last is not None
        raise last

    async def cancel(self, order_id: str) -> bool:
        """True when the cancel was accepted (204); False when the order is not cancelable/unknown."""
        try:
            await self._retrying("DELETE", f"/v2/orders/{order_id}")
            return True
        except NotFound:
            return False
        except OrderRejected as exc:
            if exc.code == "42210000":
                return False
            raise

    async def cancel_all(self) -> list[dict[str, Any]]:
        return await self._retrying("DELETE", "/v2/orders") or []
