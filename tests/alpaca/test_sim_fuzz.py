"""Property tests at the simulator's trust boundary: REST bodies, query strings and websocket
messages, arbitrary or mutated from valid ones, never give a 5xx nor end a socket handler.

Example counts are modest by default; SIM_FUZZ_EXAMPLES=5000 runs the long version.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpaca_sim.models import OrderRequest, SimRejection
from alpaca_sim.order_requests import parse_order_request, parse_replace_request
from tests.alpaca.conftest import RunningSim, start_sim

_SCALE = int(os.environ.get("SIM_FUZZ_EXAMPLES", "0"))
PURE = settings(max_examples=_SCALE or 300, deadline=None)
WIRE = settings(max_examples=_SCALE or 40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=30), st.sampled_from(["1e999999999", "-0", "NaN", "Infinity", "0.001",
                                                           "100.005", "1E+5", " 5 ", "0x10", "١٢"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
VALID_ORDER: dict[str, Any] = {
    "symbol": "SPY", "qty": "10", "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": "100",
    "order_class": "bracket", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "90"},
}
ORDER_KEYS = [*VALID_ORDER, "stop_price", "client_order_id", "extended_hours", "notional", "trail_price"]


@st.composite
def mutated_orders(draw: st.DrawFn) -> object:
    body = dict(VALID_ORDER)
    for key in draw(st.lists(st.sampled_from(ORDER_KEYS), max_size=4)):
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(json_values)
    return body if draw(st.integers(0, 9)) else draw(json_values)


@PURE
@given(mutated_orders())
def test_order_parser_when_body_is_mutated_then_a_request_or_our_rejection(body: object) -> None:
    try:
        assert isinstance(parse_order_request(body), OrderRequest)
    except SimRejection as exc:
        assert exc.http_status == 422 and exc.body["code"] in (40010001, 42210000)


@PURE
@given(json_values, st.booleans())
def test_replace_parser_when_body_is_arbitrary_then_a_request_or_our_rejection(body: object, crypto: bool) -> None:
    try:
        parse_replace_request(body, crypto)
    except SimRejection as exc:
        assert exc.http_status == 422


@pytest.fixture(scope="module")
def fuzz_sim() -> Iterator[RunningSim]:
    running, stop = start_sim(rate_limit=10_000_000)
    running.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    yield running
    stop()


def call(sim: RunningSim, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"APCA-API-KEY-ID": sim.config.key_id,
                                                         "APCA-API-SECRET-KEY": sim.config.secret_key})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def assert_alpaca_answer(status: int, body: Any) -> None:
    assert status < 500, body
    if status >= 400:
        assert isinstance(body, dict) and isinstance(body["code"], int) and body["message"]


def assert_still_serving(sim: RunningSim) -> None:
    for path in ("/v2/orders?status=all&nested=true", "/v2/account", "/v2/positions"):
        assert call(sim, "GET", path)[0] == 200


@WIRE
@given(body=mutated_orders(), method=st.sampled_from(["POST", "PATCH"]))
def test_order_endpoints_when_body_is_mutated_then_no_5xx_and_reads_keep_working(
    fuzz_sim: RunningSim, body: object, method: str
) -> None:
    path = "/v2/orders"
    if method == "PATCH":
        status, orders = call(fuzz_sim, "GET", "/v2/orders?status=all&limit=1")
        path += "/" + (orders[0]["id"] if orders else "00000000-0000-0000-0000-000000000000")
    assert_alpaca_answer(*call(fuzz_sim, method, path, json.dumps(body).encode()))
    assert_still_serving(fuzz_sim)


@WIRE
@given(raw=st.binary(max_size=200), path=st.sampled_from(["/v2/orders", "/admin/step", "/admin/faults", "/v2/watchlists"]))
def test_post_when_body_is_arbitrary_bytes_then_no_5xx(fuzz_sim: RunningSim, raw: bytes, path: str) -> None:
    if path == "/admin/faults" and b"reject_auth" in raw:
        return
    assert_alpaca_answer(*call(fuzz_sim, "POST", path, raw))
    assert_still_serving(fuzz_sim)


QUERY_PATHS = ["/v2/orders", "/v2/stocks/bars", "/v1beta3/crypto/us/bars", "/v2/assets", "/v2/calendar",
               "/v2/stocks/quotes", "/v2/stocks/trades", "/v2/stocks/bars/latest", "/v2/stocks/snapshots",
               "/v2/positions/SPY", "/v2/assets/SPY", "/v2/orders:by_client_order_id",
               "/v2/account/portfolio/history", "/v2/watchlists"]
QUERY_KEYS = ["status", "limit", "after", "until", "direction", "nested", "symbols", "side", "timeframe", "start",
              "end", "page_token", "sort", "qty", "percentage", "client_order_id", "feed", "asset_class",
              "period", "extended_hours"]


@WIRE
@given(path=st.sampled_from(QUERY_PATHS), method=st.sampled_from(["GET", "DELETE"]),
       params=st.dictionaries(st.sampled_from(QUERY_KEYS), st.text(max_size=30), max_size=5))
def test_query_strings_when_arbitrary_then_no_5xx(fuzz_sim: RunningSim, path: str, method: str,
                                                   params: dict[str, str]) -> None:
    query = urllib.parse.urlencode(params)
    assert_alpaca_answer(*call(fuzz_sim, method, f"{path}?{query}"))
    assert_still_serving(fuzz_sim)


frames = st.one_of(json_values.map(json.dumps), st.binary(max_size=60),
                   st.fixed_dictionaries({"action": st.sampled_from(["authenticate", "listen", "auth", "subscribe",
                                                                     "unsubscribe"]),
                                          "data": json_values, "trades": json_values, "bars": json_values,
                                          "key": json_values, "secret": json_values}).map(json.dumps))


async def _authenticated(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A market-data socket past auth (the previous example's socket may still hold the one slot)."""
    auth = json.dumps({"action": "auth", "key": "sim-key", "secret": "sim-secret"})
    for _ in range(100):
        ws = await session.ws_connect(url + "/v2/iex")
        await ws.receive()  # connected
        await ws.send_str(auth)
        answer = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        if answer[0].get("msg") == "authenticated":
            return ws
        await ws.close()
        await asyncio.sleep(0.02)
    raise AssertionError("could not authenticate")


async def _survives(url: str, sent: list[str | bytes], good: str, stream: str) -> Any:
    async with aiohttp.ClientSession() as session:
        ws = await (session.ws_connect(url + stream) if stream == "/stream" else _authenticated(session, url))
        for frame in sent:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
        await ws.send_str(good)
        while True:  # the socket answers the good message after whatever the bad ones caused
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
            answer = json.loads(msg.data)
            if stream == "/stream" and answer.get("stream") == "authorization" \
                    and answer["data"].get("action") == "authenticate" and answer["data"]["status"] == "authorized":
                await ws.close()
                return answer
            if stream != "/stream" and any(m.get("T") == "subscription" for m in answer):
                await ws.close()
                return answer


@WIRE
@given(sent=st.lists(frames, max_size=6))
def test_trade_stream_when_messages_are_arbitrary_then_the_handler_keeps_serving(
    fuzz_sim: RunningSim, sent: list[str | bytes]
) -> None:
    good = json.dumps({"action": "authenticate", "data": {"key_id": "sim-key", "secret_key": "sim-secret"}})
    assert asyncio.run(_survives(fuzz_sim.url, sent, good, "/stream"))


@WIRE
@given(sent=st.lists(frames, max_size=6))
def test_market_data_stream_when_messages_are_arbitrary_then_the_handler_keeps_serving(
    fuzz_sim: RunningSim, sent: list[str | bytes]
) -> None:
    good = json.dumps({"action": "subscribe", "bars": ["SPY"]})
    assert asyncio.run(_survives(fuzz_sim.url, sent, good, "/v2/iex"))
