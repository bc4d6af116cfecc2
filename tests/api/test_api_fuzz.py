"""The control API under fuzzing: schemathesis from its own OpenAPI document, and raw bytes on the
socket. Whatever arrives, the answer is never a 5xx, and only a well-formed request reaches the plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from raw_http import send_raw
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from cluster.app.api import ROUTES, ApiServer
from cluster.app.api_openapi import openapi_document
from cluster.foundation.domain.settings import ControlApiSettings

FUZZ = settings.get_profile("fuzz")
SCHEMA = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def fuzzed_server() -> Iterator[ApiServer]:
    server = ApiServer(FakeControlPlane(), ControlApiSettings(token=SecretStr(TOKEN)), AuditLog(), port=0)
    server.start()
    yield server
    server.stop()


@SCHEMA.parametrize()
@FUZZ
def test_api_when_fuzzed_from_its_openapi_document_then_no_5xx_and_documented_statuses(
        case: schemathesis.Case, fuzzed_server: ApiServer) -> None:
    case.call_and_validate(base_url=fuzzed_server.url, headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error, status_code_conformance])


# --- raw bytes ----------------------------------------------------------------------------------

METHODS = st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]).map(str.encode),
                    st.binary(min_size=1, max_size=8).filter(lambda b: not any(c in b for c in b" \r\n")))
PATHS = st.one_of(
    st.sampled_from([path for _, path, _ in ROUTES]).map(str.encode),
    st.sampled_from([b"/orders?limit=", b"/orders?limit=99999999999999999999", b"/orders?status=%ff%fe",
                     b"/risk/events?limit=%00", b"/%2e%2e/%2e%2e/etc/passwd", b"//kill", b"/kill?x=\xff"]),
    st.binary(min_size=1, max_size=40).map(lambda b: b"/" + b.replace(b" ", b"%20")).filter(
        lambda b: b"\r" not in b and b"\n" not in b),
)
HEADER_VALUE = st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b)
AUTHS = st.one_of(st.just(f"Bearer {TOKEN}".encode()), st.just(b"Bearer " + TOKEN.encode() + b"\xff"),
                  HEADER_VALUE.map(lambda b: b"Bearer " + b), HEADER_VALUE)
CONTENT_TYPES = st.one_of(st.sampled_from([b"application/json", b"application/json; charset=utf-8", b"text/plain",
                                           b"application/x-www-form-urlencoded"]), HEADER_VALUE)
BODIES = st.one_of(
    st.sampled_from([b'{"reason": "drill", "flatten": false}', b'{"reason": "r", "groups": 3}', b"{}", b"null",
                     b'{"reason": "\xff"}', b"[" * 10_000, b'{"reason": "x"' + b"}" * 5000]),
    st.binary(max_size=512),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                 max_leaves=10).map(lambda v: __import__("json").dumps(v).encode()),
)


@st.composite
def raw_requests(draw: st.DrawFn, port: int) -> bytes:
    method, path, body = draw(METHODS), draw(PATHS), draw(BODIES)
    host = draw(st.one_of(st.just(f"127.0.0.1:{port}".encode()), HEADER_VALUE))
    headers = [b"Host: " + host, b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
    for name, values in ((b"Authorization", AUTHS), (b"Content-Type", CONTENT_TYPES), (b"X-Operator", HEADER_VALUE),
                         (b"Origin", HEADER_VALUE)):
        if draw(st.booleans()):
            headers.append(name + b": " + draw(values))
    return method + b" " + path + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


@FUZZ
@given(data=st.data())
def test_api_when_sent_raw_hostile_requests_then_never_a_5xx(fuzzed_server: ApiServer, data: st.DataObject) -> None:
    request = data.draw(raw_requests(fuzzed_server.port))
    reply = send_raw(fuzzed_server.port, request)
    assert 0 < reply.status < 500, (request[:200], reply)
