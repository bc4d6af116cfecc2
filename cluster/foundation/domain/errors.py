"""Errors grouped by what they require of the caller, translated once at each boundary.

* ConfigError      -> fix the configuration; the process stops with one clear message.
* DependencyDown   -> a broker, database or feed is unreachable; degrade and keep retrying.
* TemporaryError   -> retry later (RateLimited carries the wait).
* OrderRejected    -> the broker or risk said no; never retry the same order.
* BadInput         -> a data row or message that cannot be used; named precisely, never dropped silently.
"""

from __future__ import annotations


class TradingError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(TradingError):
    """Invalid or missing configuration: a human must fix it before start-up."""


class DependencyDown(TradingError):
    """A dependency (database, broker, feed) cannot be reached."""


class TemporaryError(TradingError):
    """A failure that is expected to pass; the same request may be retried."""


class RateLimited(TemporaryError):
    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OrderRejected(TradingError):
    """An order was refused; sending it again would be refused again."""

    def __init__(self, message: str, code: str = "rejected") -> None:
        super().__init__(message)
        self.code = code


class BadInput(TradingError):
    """Input that cannot be used. The message names where it came from (file and line, or message)."""


class DataError(BadInput):
    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class WireError(BadInput):
    """A bus message that cannot be decoded or does not fit the schema."""


class InvalidTransition(TradingError):
    """A state machine was asked for a transition its table does not have."""
