"""The simulator's own settings (it is a separate program, so not part of the cluster's tree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

DEFAULT_KEY_ID = "sim-key"  # public: fine on loopback, refused on any other interface
DEFAULT_SECRET_KEY = "sim-secret"


@dataclass(frozen=True, slots=True)
class SimConfig:
    key_id: str = DEFAULT_KEY_ID
    secret_key: str = DEFAULT_SECRET_KEY
    data_files: tuple[str, ...] = ()
    speed: float = 0.0  # replayed seconds per wall second; 0 = only POST /admin/step advances the replay
    start: str | None = None  # RFC-3339 or date: events before it are skipped
    rate_limit: int = 200  # requests per window per key (Alpaca: 200/min)
    rate_window_s: float = 60.0
    initial_cash: Decimal = Decimal(100_000)
    account_type: Literal["margin", "cash"] = "margin"  # Alpaca paper accounts are margin accounts
    multiplier: int = 4  # margin: 4 (2 below $25,000 equity); a cash account is always 1
    allow_short: bool = False  # a cash account may short only with this; a margin account always can
    post_status: Literal["new", "accepted"] = "new"  # status answered by POST /v2/orders
    auth_timeout_s: float = 10.0  # market-data streams close unauthenticated sockets after this
    max_queued_frames: int = 1024  # per websocket; a slower client gets error 407 and is dropped
    tick_interval_s: float = 0.05
    faults: tuple[dict[str, Any], ...] = field(default_factory=tuple)
