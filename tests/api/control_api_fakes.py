"""The control API's test helpers: the kit's ControlPlane fake (real minute bars), a step clock, an audit
sink and a tiny HTTP helper."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from cluster.foundation.domain.records import AuditRecord
from tests.kit.control_plane import (  # noqa: F401 - re-exported for the API tests
    DATA,
    NS,
    REGULAR_SESSION_CLOSE,
    REGULAR_SESSION_OPEN,
    FakeControlPlane,
    RealBar,
    real_orders,
    real_positions,
    session_bars,
)

TOKEN = "tok-3f9a1c7e5b2d4a60"


class AuditLog:
    """The injected audit sink: keeps records in order."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def __call__(self, record: AuditRecord) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(base_url: str, method: str, path: str, body: Any = None, *, token: str | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> Reply:
    """One HTTP request on loopback; returns status, decoded JSON and headers, whatever the status."""
    all_headers = dict(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None and not any(k.lower() == "content-type" for k in all_headers):
        all_headers["Content-Type"] = "application/json"
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=all_headers)
    try:
        with _NO_PROXY.open(request, timeout=10) as response:
            return Reply(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, json.loads(exc.read()), dict(exc.headers))
