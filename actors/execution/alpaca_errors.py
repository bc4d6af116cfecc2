"""Alpaca HTTP failures translated once into cluster.foundation.domain.errors, by the action they require.

| what Alpaca answers              | raised            | caller's policy                         |
|----------------------------------|-------------------|-----------------------------------------|
| 401 / 403 without an order code  | ConfigError       | stop: keys are wrong                    |
| 429                              | RateLimited       | wait `retry_after_s`, then retry        |
| 5xx, timeout                     | TemporaryError    | retry (orders: only after a lookup)     |
| connection refused / DNS         | DependencyDown    | degrade, keep retrying in the background |
| 403 40310000, 422, other 4xx     | OrderRejected     | never resend the same order             |
| 404                              | NotFound          | the order/position does not exist       |
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from actors.execution.rate_limit import retry_after_s
from cluster.foundation.domain.errors import (
    ConfigError,
    OrderRejected,
    RateLimited,
    TemporaryError,
    TradingError,
)

CODE_DUPLICATE_OR_INVALID = 40010001
CODE_FORBIDDEN_ORDER = 40310000
CODE_NOT_CANCELABLE = 42210000


class NotFound(TradingError):
    """The requested order or position does not exist at the broker (HTTP 404)."""


def error_code(body: str) -> tuple[int | None, str]:
    """(code, message) from an Alpaca JSON error body; (None, raw text) when it is not JSON."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, body.strip()[:200]
    if not isinstance(parsed, dict):
        return None, body.strip()[:200]
    code = parsed.get("code")
    return (code if isinstance(code, int) else None), str(parsed.get("message", ""))


def is_duplicate_client_order_id(status: int, body: str) -> bool:
    code, message = error_code(body)
    text = message.lower().replace("_", " ")
    return status == 422 and code == CODE_DUPLICATE_OR_INVALID and "client order id" in text


def translate_http_error(
    status: int, body: str, headers: Mapping[str, str], what: str, now_epoch_s: float
) -> TradingError:
    """One Alpaca error response -> the cluster error that says what to do about it."""
    code, message = error_code(body)
    detail = f"{what}: HTTP {status} code {code}: {message}"
    if status == 429:
        return RateLimited(detail, retry_after_s(headers, now_epoch_s))
    if status >= 500:
        return TemporaryError(detail)
    if status == 401 or (status == 403 and code != CODE_FORBIDDEN_ORDER):
        return ConfigError(f"{detail} (check APCA-API-KEY-ID / APCA-API-SECRET-KEY)")
    if status == 404:
        return NotFound(detail)
    return OrderRejected(detail, code=str(code) if code is not None else f"http_{status}")
