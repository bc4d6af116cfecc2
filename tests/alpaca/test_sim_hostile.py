"""Hostile input against the simulator: every answer is Alpaca-shaped JSON, never a 5xx, and no
message ends a websocket handler. Access to the operator's endpoints needs the keys."""

from __future__ import annotations

import asyncio
import hmac
import http.client
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from alpaca_sim.__main__ import main as sim_main
from alpaca_sim.config import SimConfig
from alpaca_sim.core import SimCore
from alpaca_sim.paced import serve
from tests.alpaca.conftest import RunningSim, start_sim


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[RunningSim]:
    running, stop = start_sim(rate_limit=1_000_000)
    running.admin("/admin/step", {"until": "2013-10-07T13:31:00Z"})
    yield running
    stop()


def request(sim: RunningSim, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, keys: bool = True) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    sent = dict(headers or {})
    if keys:
        sent.setdefault("APCA-API-KEY-ID", sim.config.key_id)
        sent.setdefault("APCA-API-SECRET-KEY", sim.config.secret_key)
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def test_admin_when_called_without_keys_then_401_and_nothing_changes(sim: RunningSim) -> None:
    for method, path, body in [("POST", "/admin/faults", b'{"reject_auth": true}'),
                               ("POST", "/admin/step", b'{"steps": 5}'), ("GET", "/admin/state", None)]:
        status, answer = request(sim, method, path, body, keys=False)
        assert status == 401 and answer == {"code": 40110000, "message": "request is not authorized"}
    assert request(sim, "GET", "/v2/account")[0] == 200  # reject_auth was not set
    assert sim.admin("/admin/state")["now"] == "2013-10-07T13:25:00Z"  # no step happened


def test_admin_when_wrong_secret_then_401(sim: RunningSim) -> None:
    status, _ = request(sim, "GET", "/admin/state", headers={"APCA-API-SECRET-KEY": "guess"})
    assert status == 401


def test_admin_when_reject_auth_is_on_then_the_operator_can_still_turn_it_off(sim: RunningSim) -> None:
    sim.admin("/admin/faults", {"reject_auth": True})
    assert request(sim, "GET", "/v2/account")[0] == 401
    sim.admin("/admin/faults", {"reject_auth": False})
    assert request(sim, "GET", "/v2/account")[0] == 200


def test_keys_when_compared_then_hmac_compare_digest_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr("alpaca_sim.core.hmac.compare_digest", spy)
    core = SimCore(SimConfig(key_id="k", secret_key="s"), events=[])
    assert core.keys_valid("k", "s") and not core.keys_valid("k", "x") and not core.keys_valid("ключ", "s\udc80")
    assert len(calls) == 6  # both keys compared every time, no early exit on the first mismatch


@pytest.mark.parametrize("argv", [["--host", ""], ["--host", "0.0.0.0"], ["--host", "::"],
                                  ["--host", "0.0.0.0", "--allow-remote", "--key-id", "k", "--secret-key", "s"],
                                  ["--host", "10.0.0.5"], ["--host", "bad host!"],
                                  ["--host", "0.0.0.0", "--allow-remote"]])
def test_cli_when_host_is_empty_wildcard_or_remote_without_consent_then_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        sim_main(argv)
    assert info.value.code == 2


@pytest.mark.parametrize(("host", "key"), [("", "k-1"), ("0.0.0.0", "k-1"), ("::", "k-1"), ("10.1.2.3", "sim-key")])
def test_paced_simulator_when_host_is_a_wildcard_or_remote_with_default_keys_then_refused(host: str, key: str) -> None:
    spec = {"host": host, "port": 0, "key_id": key, "secret_key": "s-1", "files": [], "seconds": 1}
    with pytest.raises(SystemExit, match="refusing to listen"):
        asyncio.run(serve(spec))


@pytest.mark.parametrize(("path", "body"), [
    ("/admin/step", b'{"steps": Infinity}'), ("/admin/step", b'{"steps": 1e308}'),
    ("/admin/step", b'{"steps": -1}'), ("/admin/step", b'{"until": 5}'), ("/admin/step", b"[1]"),
    ("/admin/step", b'{"until": "2013-13-45"}'), ("/admin/faults", b'{"latency_ms": 1e309}'),
    ("/admin/faults", b'{"status": 500, "count": Infinity}'), ("/admin/faults", b'{"status": 500, "seconds": NaN}'),
    ("/admin/faults", b'{"status": 500, "count": 1, "match": 5}'), ("/admin/faults", b"\xff\xfe"),
])
def test_admin_when_body_is_out_of_range_then_422_json(sim: RunningSim, path: str, body: bytes) -> None:
    status, answer = request(sim, "POST", path, body)
    assert status == 422 and answer["code"] == 40010001


@pytest.mark.parametrize("query", ["after=2013-13-45", "until=2013-02-30T00:00:00Z", "after=0000-01-01T00:00:00Z",
                                   "after=%D9%A2%D9%A0%D9%A1%D9%A3-10-07", "nested=maybe", "limit=1e3"])
def test_list_orders_when_query_is_invalid_then_422_not_500(sim: RunningSim, query: str) -> None:
    status, answer = request(sim, "GET", "/v2/orders?" + query)
    assert status == 422 and answer["code"] == 40010001


def test_order_when_body_is_nested_ten_thousand_deep_then_422(sim: RunningSim) -> None:
    status, answer = request(sim, "POST", "/v2/orders", b"[" * 10_000 + b"]" * 10_000)
    assert status == 422 and answer["code"] == 40010001


@pytest.mark.parametrize("field", ["stop_price", "limit_price", "qty"])
def test_order_when_a_number_is_astronomic_then_refused_and_later_reads_still_work(sim: RunningSim, field: str) -> None:
    body = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "stop_limit", "time_in_force": "gtc",
            "limit_price": "100", "stop_price": "100", field: "1e999999999"}
    status, answer = request(sim, "POST", "/v2/orders", json.dumps(body).encode())
    assert status == 422 and answer["code"] in (40010001, 42210000)
    assert request(sim, "GET", "/v2/orders?status=all")[0] == 200
    assert request(sim, "GET", "/v2/account")[0] == 200


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/v2/nothing-here", 404, 40410000), ("PUT", "/v2/orders", 405, 40510000),
    ("GET", "/nothing", 404, 40410000), ("POST", "/v2/clock", 405, 40510000),
])
def test_unknown_paths_and_methods_when_called_then_json_error_body(sim: RunningSim, method: str, path: str,
                                                                     status: int, code: int) -> None:
    got, answer = request(sim, method, path, b"{}" if method != "GET" else None)
    assert got == status and answer["code"] == code and answer["message"]


def test_body_when_larger_than_the_cap_then_413_json(sim: RunningSim) -> None:
    status, answer = request(sim, "POST", "/v2/orders", b" " * 300_000)
    assert status == 413 and answer["code"] == 41310000


async def _trade_stream(url: str, frames: list[str | bytes]) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url + "/stream") as ws:
        for frame in frames:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
            msg = await asyncio.wait_for(ws.receive(), 5)
            replies.append(json.loads(msg.data))
    return replies


def test_trade_stream_when_listen_streams_is_not_a_list_then_error_and_socket_keeps_serving(sim: RunningSim) -> None:
    auth = json.dumps({"action": "authenticate", "data": {"key_id": "sim-key", "secret_key": "sim-secret"}})
    frames: list[str | bytes] = [auth, '{"action":"listen","data":{"streams":5}}',
                                 '{"action":"listen","data":{"streams":["trade_updates"]}}']
    replies = asyncio.run(_trade_stream(sim.url, frames))
    assert replies[0]["data"]["status"] == "authorized"
    assert replies[1]["stream"] == "error"
    assert replies[2] == {"stream": "listening", "data": {"streams": ["trade_updates"]}}


def test_trade_stream_when_keys_are_not_strings_then_unauthorized_not_a_crash(sim: RunningSim) -> None:
    frames: list[str | bytes] = ['{"action":"authenticate","data":{"key_id":["sim-key"],"secret_key":{}}}',
                                 "[" * 5000 + "]" * 5000, b"\xff\x00"]
    replies = asyncio.run(_trade_stream(sim.url, frames))
    assert replies[0]["data"]["status"] == "unauthorized"
    assert [r["stream"] for r in replies[1:]] == ["error", "error"]


@pytest.mark.parametrize("query", ["qty=1e-999999", "qty=0.0000000001", "qty=1e999999999", "percentage=1e-999999"])
def test_close_position_when_qty_is_extreme_then_422_and_the_position_stays(sim: RunningSim, query: str) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:32:00Z"})
    body = json.dumps({"symbol": "SPY", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"})
    assert request(sim, "POST", "/v2/orders", body.encode())[0] == 200
    status, answer = request(sim, "DELETE", "/v2/positions/SPY?" + query)
    assert status == 422 and answer["code"] in (40010001, 42210000)
    assert request(sim, "GET", "/v2/positions/SPY")[1]["qty"] == "10"


async def _subscribe(url: str, frames: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url + "/v2/iex") as ws:
        await ws.receive()
        await ws.send_str(json.dumps({"action": "auth", "key": "sim-key", "secret": "sim-secret"}))
        await ws.receive()
        replies = []
        for frame in frames:
            await ws.send_str(json.dumps(frame))
            replies.append(json.loads((await asyncio.wait_for(ws.receive(), 5)).data))
        return replies


def test_data_stream_when_subscription_is_too_large_or_partly_invalid_then_error_and_nothing_changes(
    sim: RunningSim,
) -> None:
    frames = [{"action": "subscribe", "bars": ["SPY"]},
              {"action": "subscribe", "trades": [f"S{i}" for i in range(10_001)]},
              {"action": "subscribe", "quotes": ["IBM"], "trades": [5]},
              {"action": "subscribe", "bars": []}]
    replies = asyncio.run(_subscribe(sim.url, frames))
    assert replies[1] == [{"T": "error", "code": 405, "msg": "symbol limit exceeded"}]
    assert replies[2] == [{"T": "error", "code": 400, "msg": "invalid syntax"}]
    assert replies[3][0]["bars"] == ["SPY"] and replies[3][0]["quotes"] == [] and replies[3][0]["trades"] == []
