"""Keys held as SecretStr (a repr or a log line never shows them) and TLS for every remote broker URL."""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic import SecretStr

from cluster.foundation.errors import ConfigError
from cluster.foundation.settings import is_loopback_host

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
