"""What AlpacaFeed connects to and subscribes: URLs, keys (SecretStr), channels and timings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from actors.execution.alpaca_rest import AlpacaConfig
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import AlpacaSettings


@dataclass(frozen=True, slots=True)
class AlpacaFeedConfig(AlpacaConfig):
    """Keys are SecretStr (plain strings are wrapped); remote URLs must use TLS (ConfigError)."""

    stream_url: str  # e.g. wss://stream.data.alpaca.markets or ws://127.0.0.1:8190
    key_id: SecretStr
    secret_key: SecretStr
    rest_url: str | None = None  # historical bars; default: stream_url with http(s) scheme
    asset_class: Literal["stocks", "crypto"] = "stocks"
    feed: Literal["iex", "sip", "delayed_sip", "test"] = "iex"
    crypto_location: Literal["us", "us-1", "eu-1"] = "us"
    encoding: Literal["json", "msgpack"] = "json"
    trades: tuple[str, ...] = ()
    quotes: tuple[str, ...] = ()
    bars: tuple[str, ...] = ()
    orderbooks: tuple[str, ...] = ()  # crypto only
    ping_interval_s: float = 10.0
    idle_timeout_s: float = 30.0  # "no message for this long" counts as a lost connection
    handshake_timeout_s: float = 10.0
    reconnect_delay_s: float = 5.0
    reconnect_max_s: float = 60.0
    down_after_failures: int = 5
    backfill: bool = True
    book_depth: int = 10

    @property
    def url(self) -> str:
        base = self.stream_url.rstrip("/")
        if self.asset_class == "crypto":
            return f"{base}/v1beta3/crypto/{self.crypto_location}"
        return f"{base}/v2/{self.feed}"

    @property
    def history_url(self) -> str:
        if self.rest_url:
            return self.rest_url
        base = self.stream_url.replace("wss://", "https://").replace("ws://", "http://")
        return base.replace("://stream.data.", "://data.")

    def key_urls(self) -> dict[str, str]:
        return {"alpaca data_url": self.stream_url, "alpaca historical data URL": self.history_url}

    def subscription(self) -> dict[str, Any]:
        message: dict[str, Any] = {"action": "subscribe"}
        for channel in ("trades", "quotes", "bars", "orderbooks"):
            symbols = list(getattr(self, channel))
            if symbols and (channel != "orderbooks" or self.asset_class == "crypto"):
                message[channel] = symbols
        return message

    @classmethod
    def from_settings(cls, settings: AlpacaSettings, **channels: Any) -> AlpacaFeedConfig:
        if settings.key_id is None or settings.secret_key is None:
            raise ConfigError("alpaca.key_id and alpaca.secret_key are required for the alpaca feed")
        return cls(settings.data_url, settings.key_id, settings.secret_key, feed=settings.feed,
                   own_simulator=settings.simulated, **channels)
