"""Typed bus messages: frozen msgspec structs, msgpack on the wire, never mutated after send.

Market data prices are floats (they come from data and feed float features). Every amount of
money or quantity on an order or fill is a Decimal. Timestamps are int nanoseconds since the
Unix epoch, UTC.

A publisher sends *envelopes*: one msgpack frame carrying a batch of messages, stamped with the
publisher's name, a session id (new on every start, so a restart is told apart from a gap) and a
sequence number that grows by one per envelope on each topic.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from cluster.foundation.domain.errors import WireError

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
TimeInForce = Literal["day", "gtc", "ioc"]
OrderStatus = Literal[
    "pending_new", "new", "partially_filled", "filled", "canceled", "expired", "rejected", "replaced",
    "pending_cancel",
]


class _Msg(msgspec.Struct, frozen=True, array_like=True, tag_field="k", forbid_unknown_fields=True):
    pass


class BarFields(msgspec.Struct, frozen=True):
    """What every one-minute trade bar holds: the bus's Bar and the simulator's replayed bars."""

    symbol: str
    ts_ns: int
    """Start of the bar."""
    open: float
    high: float
    low: float
    close: float
    volume: float
    """Shares (coins for crypto) traded in the bar."""
    trade_count: int | None = None
    vwap: float | None = None


class Bar(_Msg, BarFields, frozen=True, tag="b"):
    backfilled: bool = False


class QuoteFields(msgspec.Struct, frozen=True):
    """What every top-of-book quote holds: the bus's Quote and the simulator's replayed quotes."""

    symbol: str
    ts_ns: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float


class Quote(_Msg, QuoteFields, frozen=True, tag="q"):
    bid_exchange: str = ""
    ask_exchange: str = ""


class Trade(_Msg, frozen=True, tag="t"):
    symbol: str
    ts_ns: int
    price: float
    size: float
    exchange: str = ""


class BookUpdate(_Msg, frozen=True, tag="u"):
    """Depth snapshot of one symbol after an update: levels best first, (price, size)."""

    symbol: str
    ts_ns: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


class BatchEnd(_Msg, frozen=True, tag="e"):
    """Punctuation: every message of batch `batch` with event time <= `watermark_ns` has been sent."""

    batch: int
    watermark_ns: int
    final: bool = False


class Signal(_Msg, frozen=True, tag="s"):
    """A strategy's wish: hold `target` (-1 short, 0 flat, +1 long) in `symbol` from bar `ts_ns` on."""

    symbol: str
    ts_ns: int
    group: str
    batch: int
    target: int
    strength: float
    price: float
    model_version: str
    correlation_id: str


class SignalBatch(_Msg, frozen=True, tag="g"):
    """All signals of one group for one market-data batch (possibly none): also a watermark."""

    group: str
    batch: int
    signals: list[Signal]
    final: bool = False


class OrderIntent(_Msg, frozen=True, tag="o"):
    """An order risk approved, as execution sends it; written to the intent log before the send."""

    client_order_id: str
    """Deterministic (cluster/foundation/domain/ids.py): a retry or a restart never makes a second order."""
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    ts_ns: int
    """Event time of the decision."""
    batch: int
    correlation_id: str
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False


class OrderBatch(_Msg, frozen=True, tag="x"):
    """The risk actor's approved orders for one batch (possibly none): also a watermark, sent for every
    batch. `market`: the batch's market data when execution's broker is the in-process simulator,
    which fills against it (empty for a broker that sees the market itself). `md_at_ns`: wall-clock time
    (time.time_ns) at which the market-data batch was whole at the risk actor, the start of
    tick-to-order, which execution observes on submission (0: not measured)."""

    batch: int
    orders: list[OrderIntent]
    final: bool = False
    market: list[Bar | Quote | Trade] = msgspec.field(default_factory=list)
    md_at_ns: int = 0


class OrderUpdate(_Msg, frozen=True, tag="f"):
    """A change in an order's life at the broker. A fill carries last_fill_qty/last_fill_price."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    status: OrderStatus
    qty: Decimal
    filled_qty: Decimal
    ts_ns: int
    correlation_id: str = ""
    filled_avg_price: Decimal | None = None
    last_fill_qty: Decimal = Decimal(0)
    last_fill_price: Decimal | None = None
    commission: Decimal = Decimal(0)
    fill_id: str = ""
    reason: str = ""


class Settled(_Msg, frozen=True, tag="z"):
    """Execution has reported every order update caused by market data up to and including `batch`."""

    batch: int
    final: bool = False


Message = Bar | Quote | Trade | BookUpdate | BatchEnd | Signal | SignalBatch | OrderIntent | OrderBatch | OrderUpdate | Settled


class Envelope(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    source: str
    session: int
    seq: int
    items: list[Message]


_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_decoder = msgspec.msgpack.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(payload: bytes) -> Envelope:
    """Decode one envelope; raise WireError naming the problem (never return a partial batch)."""
    try:
        return _decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        head = payload[:32].hex()
        raise WireError(f"undecodable bus message ({len(payload)} bytes, starts {head}): {exc}") from exc


def ns_to_iso(ts_ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def as_dict(msg: msgspec.Struct) -> dict[str, object]:
    """A message as a plain dict (field names kept, Decimals as strings) for JSON views."""
    out: dict[str, object] = {}
    for name in msg.__struct_fields__:
        value = getattr(msg, name)
        out[name] = str(value) if isinstance(value, Decimal) else value
    return out
