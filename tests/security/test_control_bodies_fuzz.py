"""Control API bodies, headers and query values: parsing raises BadInput or nothing, whatever arrives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import JSON_VALUES, byte_mutations, deep_nesting, tree_mutations

from cluster.app.api_guards import decode_json_body
from cluster.app.control import (
    Caller,
    KillRequest,
    PromoteRequest,
    ReasonRequest,
    ScaleRequest,
    parse_limit,
    parse_order_status,
)
from cluster.foundation.domain.errors import BadInput

FUZZ = settings.get_profile("fuzz")
PARSERS = (ReasonRequest.parse, KillRequest.parse, ScaleRequest.parse, PromoteRequest.parse)
VALID_BODIES: list[dict[str, Any]] = [
    {"reason": "loss reviewed"}, {"reason": "drill", "flatten": True}, {"reason": "more symbols", "groups": 3},
    {"reason": "better model", "version": "xgb-20131004"},
]


def _parse_body(raw: bytes) -> None:
    try:
        body = decode_json_body(raw)
    except BadInput as exc:
        assert str(exc)
        return
    for parse in PARSERS:
        try:
            parsed = parse(body)
        except BadInput as exc:
            assert str(exc)
        else:
            assert parsed.reason.strip() == parsed.reason and parsed.reason
            assert all(ord(c) >= 0x20 and c not in "\u202e\u2066\x7f" for c in parsed.reason)


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_body_when_arbitrary_bytes_then_only_bad_input(raw: bytes) -> None:
    _parse_body(raw)


@FUZZ
@given(data=st.data())
def test_body_when_valid_bodies_are_byte_mutated_then_only_bad_input(data: st.DataObject) -> None:
    _parse_body(data.draw(byte_mutations(json.dumps(data.draw(st.sampled_from(VALID_BODIES))).encode())))


@FUZZ
@given(data=st.data())
def test_body_when_valid_bodies_are_structurally_mutated_then_only_bad_input(data: st.DataObject) -> None:
    mutated = data.draw(tree_mutations(data.draw(st.sampled_from(VALID_BODIES))))
    _parse_body(json.dumps(mutated).encode())


@FUZZ
@given(data=st.data())
def test_body_when_nested_thousands_deep_then_bad_input(data: st.DataObject) -> None:
    seed = json.dumps(data.draw(st.sampled_from(VALID_BODIES))).encode()
    opener, closer = data.draw(st.sampled_from(((b"[", b"]"), (b'{"a":', b"}"))))
    _parse_body(data.draw(deep_nesting(seed, opener, closer)))


@FUZZ
@given(value=JSON_VALUES)
def test_body_when_any_json_value_then_only_bad_input(value: Any) -> None:
    _parse_body(json.dumps(value).encode())


@FUZZ
@given(header=st.one_of(st.none(), st.text(max_size=80)), principal=st.one_of(st.none(), st.text(max_size=8)),
       peer=st.one_of(st.none(), st.text(max_size=40)))
def test_operator_header_when_arbitrary_text_then_a_caller_or_bad_input(header: str | None, principal: str | None,
                                                                       peer: str | None) -> None:
    try:
        caller = Caller.identify(header, principal, peer)
    except BadInput:
        return
    assert caller.claimed == header and caller.principal


@FUZZ
@given(raw=st.one_of(st.none(), st.text(max_size=40)))
def test_query_values_when_arbitrary_text_then_a_value_or_bad_input(raw: str | None) -> None:
    for parse in (parse_limit, parse_order_status):
        try:
            parse(raw)
        except BadInput as exc:
            assert str(exc)
