"""Market-data frames (JSON and msgpack) from a hostile server: FeedParser.parse never raises."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import byte_mutations, deep_nesting, tree_mutations

from actors.market_data.alpaca_feed_parse import FeedParser, ParsedFrame

FUZZ = settings.get_profile("fuzz")

VALID_JSON_FRAMES: list[list[dict[str, Any]]] = [
    [{"T": "b", "S": "SPY", "o": 167.1, "h": 167.4, "l": 167.0, "c": 167.3, "v": 1200, "t": "2013-10-07T13:31:00Z",
      "n": 12, "vw": 167.2}],
    [{"T": "t", "S": "IBM", "i": 52983525029461, "x": "V", "p": 183.41, "s": 100, "t": "2013-10-07T13:31:00.123456789Z",
      "c": ["@"], "z": "A"}],
    [{"T": "q", "S": "BAC", "bx": "V", "bp": 13.86, "bs": 3, "ax": "Q", "ap": 13.87, "as": 5,
      "t": "2013-10-07T13:31:00Z", "c": ["R"], "z": "A"}],
    [{"T": "o", "S": "BTC/USD", "t": "2024-01-02T00:00:00Z", "b": [{"p": 42000.5, "s": 0.3}],
      "a": [{"p": 42001.0, "s": 0.1}], "r": True}],
    [{"T": "success", "msg": "authenticated"}, {"T": "subscription", "bars": ["SPY"], "trades": []}],
    [{"T": "error", "code": 402, "msg": "auth failed"}, {"T": "s", "S": "SPY"}],
]


def _msgpack_ready(value: Any) -> Any:
    """JSON stamps become msgpack Timestamp extensions, as Alpaca's msgpack frames carry them."""
    if isinstance(value, dict):
        return {k: (msgspec.msgpack.Ext(-1, (1381152660).to_bytes(4)) if k == "t" and isinstance(v, str)
                    else _msgpack_ready(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_msgpack_ready(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return float(value)  # msgpack has no integers this large; a float keeps the value's size
    return value


VALID_MSGPACK_FRAMES = [msgspec.msgpack.encode(_msgpack_ready(f)) for f in VALID_JSON_FRAMES]
VALID_JSON_BYTES = [json.dumps(f).encode() for f in VALID_JSON_FRAMES]


def _parse_all(parser: FeedParser, frame: bytes | str) -> ParsedFrame:
    parsed = parser.parse(frame)
    assert isinstance(parsed, ParsedFrame)
    for problem in parsed.problems:
        assert problem.kind in ("bad_frame", "bad_message", "unknown_type") and problem.detail
    return parsed


def test_valid_frames_when_parsed_then_each_gives_items_or_controls_and_no_problem() -> None:
    for msgpack, frames in ((False, VALID_JSON_BYTES), (True, VALID_MSGPACK_FRAMES)):
        parser = FeedParser(msgpack=msgpack)
        for frame in frames:
            parsed = parser.parse(frame)
            assert parsed.problems == [] and (parsed.items or parsed.controls), frame


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
@FUZZ
@given(data=st.data())
def test_parse_when_given_arbitrary_bytes_then_never_raises(msgpack: bool, data: st.DataObject) -> None:
    _parse_all(FeedParser(msgpack=msgpack), data.draw(st.binary(max_size=2048)))


@FUZZ
@given(text=st.text(max_size=1024))
def test_parse_when_given_arbitrary_text_frames_then_never_raises(text: str) -> None:
    _parse_all(FeedParser(msgpack=False), text)


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
@FUZZ
@given(data=st.data())
def test_parse_when_valid_frames_are_byte_mutated_then_never_raises(msgpack: bool, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(VALID_MSGPACK_FRAMES if msgpack else VALID_JSON_BYTES))
    _parse_all(FeedParser(msgpack=msgpack), data.draw(byte_mutations(seed)))


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
@FUZZ
@given(data=st.data())
def test_parse_when_valid_frames_are_structurally_mutated_then_never_raises(msgpack: bool,
                                                                           data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(VALID_JSON_FRAMES))
    mutated = data.draw(tree_mutations(seed))
    frame = msgspec.msgpack.encode(_msgpack_ready(mutated)) if msgpack else json.dumps(mutated).encode()
    _parse_all(FeedParser(msgpack=msgpack), frame)


@FUZZ
@given(data=st.data())
def test_parse_when_frames_are_nested_thousands_deep_then_never_raises(data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(VALID_JSON_BYTES))
    parsed = _parse_all(FeedParser(msgpack=False), data.draw(deep_nesting(seed)))
    assert parsed.items == []
    msgpack_deep = b"\x91" * data.draw(st.integers(1000, 12_000)) + data.draw(st.sampled_from(VALID_MSGPACK_FRAMES))
    _parse_all(FeedParser(msgpack=True), msgpack_deep)


@FUZZ
@given(data=st.data())
def test_parse_when_one_parser_sees_many_hostile_frames_then_good_frames_still_parse(data: st.DataObject) -> None:
    # The order-book state a parser keeps must not be poisoned by bad frames.
    parser = FeedParser(msgpack=False)
    for _ in range(data.draw(st.integers(1, 5))):
        _parse_all(parser, data.draw(byte_mutations(data.draw(st.sampled_from(VALID_JSON_BYTES)))))
    good = parser.parse(VALID_JSON_BYTES[0])
    assert good.problems == [] and len(good.items) == 1
