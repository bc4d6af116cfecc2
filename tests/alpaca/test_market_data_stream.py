"""Market-data websockets (stocks v2, crypto v1beta3) and historical bars, JSON and msgpack."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec

from tests.alpaca.conftest import TRADE_BARS, RunningSim, csv_row

MSGPACK = {"Content-Type": "application/msgpack"}


async def _recv(ws: aiohttp.ClientWebSocketResponse, msgpack: bool) -> list[dict[str, Any]]:
    msg = await ws.receive(timeout=5)
    if msgpack:
        assert msg.type == aiohttp.WSMsgType.BINARY
        return msgspec.msgpack.decode(msg.data)
    assert msg.type == aiohttp.WSMsgType.TEXT
    return json.loads(msg.data)


async def _send(ws: aiohttp.ClientWebSocketResponse, body: dict[str, Any], msgpack: bool) -> None:
    if msgpack:
        await ws.send_bytes(msgspec.msgpack.encode(body))
    else:
        await ws.send_str(json.dumps(body))


async def _handshake_and_first_bar(sim: RunningSim, msgpack: bool) -> tuple[list[Any], dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"ws://127.0.0.1:{sim.port}/v2/iex", headers=MSGPACK if msgpack else None
    ) as ws:
        controls = [await _recv(ws, msgpack)]
        await _send(ws, {"action": "auth", "key": sim.config.key_id, "secret": sim.config.secret_key}, msgpack)
        controls.append(await _recv(ws, msgpack))
        await _send(ws, {"action": "subscribe", "bars": ["SPY"], "trades": ["IBM"]}, msgpack)
        controls.append(await _recv(ws, msgpack))
        await asyncio.to_thread(sim.admin, "/admin/step", {"until": "2013-10-07T13:31:00Z"})
        wanted = datetime(2013, 10, 7, 13, 30, tzinfo=UTC) if msgpack else "2013-10-07T13:30:00Z"
        while True:  # one array per publish time; the 13:30 bar is published at 13:31
            batch = await _recv(ws, msgpack)
            assert {m["S"] for m in batch} <= {"SPY", "IBM"}
            bars = [m for m in batch if m["T"] == "b" and m["t"] == wanted]
            if bars:
                return controls, bars[0]


def _expected_bar() -> dict[str, Any]:
    row = csv_row(TRADE_BARS, "SPY", "2013-10-07T13:30:00Z")
    return {"T": "b", "S": "SPY", "o": float(row["open"]), "h": float(row["high"]), "l": float(row["low"]),
            "c": float(row["close"]), "v": int(row["volume"]), "n": None, "vw": None}


def test_stock_stream_when_json_then_connected_authenticated_subscription_and_bar_with_n_vw(sim: RunningSim) -> None:
    controls, bar = asyncio.run(_handshake_and_first_bar(sim, msgpack=False))
    assert controls[0] == [{"T": "success", "msg": "connected"}]
    assert controls[1] == [{"T": "success", "msg": "authenticated"}]
    sub = controls[2][0]
    assert (sub["T"], sub["bars"], sub["trades"], sub["quotes"]) == ("subscription", ["SPY"], ["IBM"], [])
    assert sub["corrections"] == ["IBM"] and sub["cancelErrors"] == ["IBM"]
    assert bar["t"] == "2013-10-07T13:30:00Z"
    assert {k: v for k, v in bar.items() if k != "t"} == _expected_bar()


def test_stock_stream_when_msgpack_then_binary_frames_and_timestamp_extension(sim: RunningSim) -> None:
    controls, bar = asyncio.run(_handshake_and_first_bar(sim, msgpack=True))
    assert controls[1] == [{"T": "success", "msg": "authenticated"}]
    assert bar["t"] == datetime(2013, 10, 7, 13, 30, tzinfo=UTC)  # decoded from ext type -1
    assert {k: v for k, v in bar.items() if k != "t"} == _expected_bar()


async def _exchange(sim: RunningSim, path: str, frames: list[str], replies: int) -> list[list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{sim.port}{path}") as ws:
        out = [json.loads((await ws.receive(timeout=5)).data)]
        for frame in frames:
            await ws.send_str(frame)
        for _ in range(replies):
            out.append(json.loads((await ws.receive(timeout=5)).data))
        return out


def test_stock_stream_when_malformed_frame_or_unknown_action_then_error_400_and_connection_survives(
    sim: RunningSim,
) -> None:
    auth = json.dumps({"action": "auth", "key": sim.config.key_id, "secret": sim.config.secret_key})
    out = asyncio.run(_exchange(sim, "/v2/iex", ["{not json", json.dumps({"action": "dance"}), auth], 3))
    assert out[1] == [{"T": "error", "code": 400, "msg": "invalid syntax"}]
    assert out[2] == [{"T": "error", "code": 400, "msg": "invalid syntax"}]
    assert out[3] == [{"T": "success", "msg": "authenticated"}]


def test_stock_stream_when_subscribing_before_auth_or_with_bad_keys_then_401_then_402(sim: RunningSim) -> None:
    frames = [json.dumps({"action": "subscribe", "bars": ["SPY"]}),
              json.dumps({"action": "auth", "key": "x", "secret": "y"})]
    out = asyncio.run(_exchange(sim, "/v2/sip", frames, 2))
    assert out[1] == [{"T": "error", "code": 401, "msg": "not authenticated"}]
    assert out[2] == [{"T": "error", "code": 402, "msg": "auth failed"}]


def test_crypto_stream_when_subscribed_then_only_crypto_symbols_and_unsubscribe_lists_rest(sim: RunningSim) -> None:
    auth = json.dumps({"action": "auth", "key": sim.config.key_id, "secret": sim.config.secret_key})
    sub = json.dumps({"action": "subscribe", "bars": ["BTC/USD", "ETH/USD"], "quotes": ["BTC/USD"]})
    unsub = json.dumps({"action": "unsubscribe", "bars": ["ETH/USD"]})
    out = asyncio.run(_exchange(sim, "/v1beta3/crypto/us", [auth, sub, unsub], 3))
    assert out[2][0]["bars"] == ["BTC/USD", "ETH/USD"] and out[2][0]["orderbooks"] == []
    assert out[3][0]["bars"] == ["BTC/USD"] and out[3][0]["quotes"] == ["BTC/USD"]


def test_trade_stream_when_listen_before_auth_or_garbage_then_clear_replies_not_a_crash(sim: RunningSim) -> None:
    listen = json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}})
    auth = json.dumps({"action": "authenticate", "data": {"key_id": sim.config.key_id,
                                                          "secret_key": sim.config.secret_key}})

    async def run() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{sim.port}/stream") as ws:
            for frame in (listen, "garbage", auth, listen):
                await ws.send_str(frame)
            replies = []
            for _ in range(4):
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.BINARY
                replies.append(json.loads(msg.data))
            return replies

    replies = asyncio.run(run())
    assert replies[0] == {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}
    assert replies[1]["stream"] == "error"
    assert replies[2] == {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}
    assert replies[3] == {"stream": "listening", "data": {"streams": ["trade_updates"]}}


def test_historical_bars_when_paged_then_pages_join_to_the_published_rows_with_n_and_vw(sim: RunningSim) -> None:
    sim.admin("/admin/step", {"until": "2013-10-07T13:32:00Z"})
    query = "/v2/stocks/bars?symbols=SPY&timeframe=1Min&start=2013-10-07T13:28:00Z&limit=2"
    status, _, first = sim.raw("GET", query)
    _, _, second = sim.raw("GET", f"{query}&page_token={first['next_page_token']}")
    bars = first["bars"]["SPY"] + second["bars"]["SPY"]
    assert status == 200 and second["next_page_token"] is None
    assert [b["t"] for b in bars] == [f"2013-10-07T13:{m}:00Z" for m in (28, 29, 30, 31)]  # 13:32 not closed yet
    row = csv_row(TRADE_BARS, "SPY", "2013-10-07T13:30:00Z")
    assert bars[2] == {"t": "2013-10-07T13:30:00Z", "o": float(row["open"]), "h": float(row["high"]),
                       "l": float(row["low"]), "c": float(row["close"]), "v": int(row["volume"]),
                       "n": None, "vw": None}
