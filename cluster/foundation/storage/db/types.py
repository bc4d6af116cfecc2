"""Column types and the int-ns <-> datetime boundary.

Records and wire messages carry int UTC nanoseconds; the database stores timezone-aware
timestamps (microsecond precision on both backends). Money and quantities are Decimal: NUMERIC on
PostgreSQL, and TEXT on SQLite, whose NUMERIC affinity would silently turn them into floats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Money(TypeDecorator[Decimal]):
    """Exact decimal: NUMERIC(28, 10) on PostgreSQL, decimal text on SQLite."""

    impl = Numeric(28, 10, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(28, 10, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return tidy(value if isinstance(value, Decimal) else Decimal(str(value)))


def tidy(value: Decimal) -> Decimal:
    """Drop the trailing zeros NUMERIC(28, 10) adds, without switching to exponent notation."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def UtcDateTime() -> DateTime:  # noqa: N802 - reads like a type in column definitions
    return DateTime(timezone=True)


def ns_to_dt(ts_ns: int) -> datetime:
    """int UTC ns -> aware UTC datetime (sub-microsecond digits are dropped)."""
    return _EPOCH + timedelta(microseconds=ts_ns // 1_000)


def dt_to_ns(value: datetime) -> int:
    """Aware (or naive UTC, as SQLite returns) datetime -> int UTC ns."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
