"""Keys held as SecretStr (a repr or a log line never shows them) and TLS for every remote broker URL."""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic import SecretStr

from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import is_loopback_host

_PLAIN_SCHEMES = {"http": "https", "ws": "wss"}


def as_secret(value: SecretStr | str) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


def require_tls(url: str, what: str) -> None:
    """Keys may travel in clear text to this machine only: a remote URL must be https:// or wss://."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in _PLAIN_SCHEMES and not is_loopback_host(parsed.hostname or ""):
        raise ConfigError(f"{what} {parsed.scheme}://{parsed.hostname}... would send the API keys unencrypted: "
                          f"use {_PLAIN_SCHEMES[scheme]}:// for a broker that is not on this machine")


class AlpacaKeys:
    """What the Alpaca configs share: the keys sealed as SecretStr, TLS required for every URL the keys
    go to (except the cluster's own simulator, reached over the cluster network), the auth headers."""

    __slots__ = ()
    key_id: SecretStr
    secret_key: SecretStr
    own_simulator: bool

    def _seal(self, urls: dict[str, str]) -> None:
        """Call from __post_init__ with {what: url} for every URL that receives the keys."""
        object.__setattr__(self, "key_id", as_secret(self.key_id))
        object.__setattr__(self, "secret_key", as_secret(self.secret_key))
        if not self.own_simulator:
            for what, url in urls.items():
                require_tls(url, what)

    def auth_headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": self.key_id.get_secret_value(),
                "APCA-API-SECRET-KEY": self.secret_key.get_secret_value()}
