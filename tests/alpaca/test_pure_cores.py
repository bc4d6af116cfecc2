"""Pure parts without sockets: matching engine, error translation, frame parsing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from actors.execution.alpaca_errors import NotFound, translate_http_error
from actors.execution.alpaca_rest import AlpacaClientConfig
from actors.execution.alpaca_stream import TradeUpdatesStream
from actors.execution.alpaca_updates import event_to_update
from alpaca_sim.data import QuoteEvent, read_events
from alpaca_sim.models import OrderRequest, SimRejection
from alpaca_sim.orders import MatchingEngine
from alpaca_sim.timefmt import parse_rfc3339_ns
from cluster.foundation.domain.errors import ConfigError, OrderRejected, RateLimited, TemporaryError
from tests.alpaca.conftest import QUOTE_BARS

_QUOTES = {(e.symbol, e.ts_ns): e for e in read_events(QUOTE_BARS) if isinstance(e, QuoteEvent)}


def quote(ts: str) -> QuoteEvent:
    return _QUOTES[("SPY", parse_rfc3339_ns(ts))]


def request(side: str, qty: str, order_type: str = "market", tif: str = "day", limit: str | None = None,
            stop: str | None = None, cid: str = "c") -> OrderRequest:
    return OrderRequest("SPY", Decimal(qty), side, order_type, tif, cid,
                        None if limit is None else Decimal(limit), None if stop is None else Decimal(stop))


def engine_at(ts: str) -> MatchingEngine:
    engine = MatchingEngine(Decimal(1_000_000))
    engine.on_market(quote(ts), parse_rfc3339_ns(ts))
    return engine


def test_limit_buy_when_ask_above_limit_then_rests_until_a_quote_crosses() -> None:
    q1, q2 = quote("2013-10-07T13:31:00Z"), quote("2013-10-07T13:32:00Z")
    engine = engine_at("2013-10-07T13:31:00Z")
    limit = str(q2.ask)
    assert q1.ask > q2.ask
    _, events = engine.submit(request("buy", "100", "limit", limit=limit), 0)
    assert [e.event for e in events] == ["new"]
    later = engine.on_market(q2, 1)
    assert [e.event for e in later] == ["fill"] and later[0].price == Decimal(str(q2.ask))


def test_stop_buy_when_ask_reaches_stop_then_triggers_and_fills_at_the_ask() -> None:
    q = quote("2013-10-07T13:30:00Z")
    engine = engine_at("2013-10-07T13:31:00Z")  # ask 167.38, below the stop
    _, events = engine.submit(request("buy", "10", "stop", stop="167.40"), 0)
    assert [e.event for e in events] == ["new"]
    triggered = engine.on_market(q, 1)  # ask 167.45 >= 167.40
    assert [(e.event, e.price) for e in triggered] == [("fill", Decimal(str(q.ask)))]


def test_ioc_when_size_beyond_ask_size_then_partial_fill_and_rest_canceled() -> None:
    q = quote("2013-10-07T13:30:00Z")
    engine = engine_at("2013-10-07T13:30:00Z")
    _, events = engine.submit(request("buy", str(int(q.ask_size) + 5), tif="ioc"), 0)
    assert [e.event for e in events] == ["new", "partial_fill", "canceled"]
    assert events[1].qty == Decimal(str(q.ask_size))


def test_sell_when_no_position_and_short_disallowed_then_403_with_available_fields() -> None:
    engine = engine_at("2013-10-07T13:30:00Z")
    with pytest.raises(SimRejection) as info:
        engine.submit(request("sell", "5"), 0)
    assert info.value.http_status == 403 and info.value.body["code"] == 40310000
    assert info.value.body["available"] == "0" and info.value.body["symbol"] == "SPY"


def test_day_order_when_new_york_date_changes_then_expires() -> None:
    engine = engine_at("2013-10-07T13:30:00Z")
    engine.submit(request("buy", "1", "limit", limit="100"), parse_rfc3339_ns("2013-10-07T13:30:00Z"))
    next_day = parse_rfc3339_ns("2013-10-08T13:30:00Z")
    events = engine.on_market(quote("2013-10-08T13:30:00Z"), next_day)
    assert [e.event for e in events] == ["expired"]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, '{"code":40110000,"message":"request is not authorized"}', ConfigError),
        (403, '{"message":"forbidden."}', ConfigError),
        (403, '{"code":40310000,"message":"insufficient buying power"}', OrderRejected),
        (422, '{"code":40010001,"message":"client_order_id must be unique"}', OrderRejected),
        (404, '{"code":40410000,"message":"order not found"}', NotFound),
        (429, '{"code":42910000,"message":"rate limit exceeded"}', RateLimited),
        (500, "<html>oops</html>", TemporaryError),
        (503, "", TemporaryError),
    ],
)
def test_translate_when_alpaca_answers_status_then_error_names_the_required_action(
    status: int, body: str, expected: type[Exception]
) -> None:
    error = translate_http_error(status, body, {"X-RateLimit-Reset": "1003"}, "GET /v2/x", now_epoch_s=1000.0)
    assert type(error) is expected
    if isinstance(error, RateLimited):
        assert error.retry_after_s == 3.0


def test_trade_stream_when_frames_are_malformed_or_unknown_then_counted_and_valid_events_still_pass() -> None:
    seen: list[dict[str, Any]] = []

    async def nothing() -> None:
        return None

    config = AlpacaClientConfig("http://127.0.0.1:1", "k", "s")
    stream = TradeUpdatesStream(config, session=None, on_event=seen.append, on_connected=nothing)  # type: ignore[arg-type]
    stream._dispatch(b"\xff\xfe not json")
    stream._dispatch('{"stream":"weather","data":{}}')
    stream._dispatch("[1,2,3]")
    stream._dispatch('{"stream":"trade_updates","data":{"event":"new"}}')
    assert stream.bad_frames == 3 and seen == [{"event": "new"}]


def test_event_when_fill_then_update_carries_execution_qty_price_and_id() -> None:
    order = {"id": "b", "client_order_id": "c", "symbol": "SPY", "side": "buy", "status": "partially_filled",
             "qty": "10", "filled_qty": "4", "filled_avg_price": "167.45",
             "created_at": "2013-10-07T13:31:00Z", "updated_at": "2013-10-07T13:31:00.5Z"}
    data = {"event": "partial_fill", "execution_id": "e-1", "timestamp": "2013-10-07T13:31:00.000000007Z",
            "price": "167.45", "qty": "4", "position_qty": "4", "order": order}
    update = event_to_update(data, "corr")
    assert update is not None
    assert (update.last_fill_qty, update.last_fill_price, update.fill_id) == (Decimal(4), Decimal("167.45"), "e-1")
    assert update.ts_ns % 1_000_000_000 == 7 and update.correlation_id == "corr"
