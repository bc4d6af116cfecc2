"""Hostile callers: wildcard binds, cross-site pages, DNS rebinding, odd bytes. Nothing runs, nothing 500s."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from control_api_fakes import TOKEN, AuditLog, FakeControlPlane, call
from pydantic import SecretStr, ValidationError
from raw_http import request_bytes, send_raw

from cluster.app.api import ApiServer, create_app
from cluster.app.api_token import load_or_create_token, read_token, token_path, with_token
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import ControlApiSettings, RaySettings, is_loopback_host

KILL = {"reason": "drill", "flatten": True}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# --- 1. wildcard hosts ------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["", " ", "0.0.0.0", "::", "[::]"])
def test_is_loopback_host_when_wildcard_or_empty_then_false(host: str) -> None:
    assert is_loopback_host(host) is False


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_is_loopback_host_when_loopback_name_then_true(host: str) -> None:
    assert is_loopback_host(host) is True


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::"])
def test_control_api_settings_when_wildcard_host_without_token_then_invalid(host: str) -> None:
    with pytest.raises(ValidationError, match="token is required"):
        ControlApiSettings(host=host)


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::"])
def test_ray_settings_when_wildcard_dashboard_without_auth_then_invalid(host: str) -> None:
    with pytest.raises(ValidationError, match="loopback"):
        RaySettings(dashboard_host=host, auth_mode="disabled")


def test_start_when_host_is_empty_and_settings_skipped_validation_then_config_error(
        plane: FakeControlPlane, audit_log: AuditLog) -> None:
    settings = ControlApiSettings.model_construct(host="", port=8180, token=None, allowed_hosts=())
    server = ApiServer(plane, settings, audit_log, port=0)
    with pytest.raises(ConfigError, match="non-loopback"):
        server.start()


# --- 2. a token always ------------------------------------------------------------------------


def test_create_app_when_loopback_and_no_token_then_config_error(plane: FakeControlPlane,
                                                                  audit_log: AuditLog) -> None:
    with pytest.raises(ConfigError, match="needs a token"):
        create_app(plane, ControlApiSettings(host="127.0.0.1"), audit_log)


def test_with_token_when_none_configured_then_a_token_is_stored_owner_only_and_reused(tmp_path: Path) -> None:
    # Act
    first = with_token(ControlApiSettings(), tmp_path / "var")
    second = with_token(ControlApiSettings(), tmp_path / "var")
    # Assert
    path = token_path(tmp_path / "var")
    assert first.token is not None and second.token is not None
    assert len(first.token.get_secret_value()) >= 32
    assert first.token.get_secret_value() == second.token.get_secret_value()
    assert path.read_text().strip() == first.token.get_secret_value()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_with_token_when_one_is_configured_then_no_file_is_written(tmp_path: Path) -> None:
    configured = ControlApiSettings(token=SecretStr(TOKEN))
    assert with_token(configured, tmp_path) is configured
    assert not token_path(tmp_path).exists()


def test_read_token_when_file_is_readable_by_others_then_config_error(tmp_path: Path) -> None:
    path = token_path(tmp_path)
    load_or_create_token(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        read_token(path)


def test_cli_when_no_token_given_then_it_reads_the_stored_one(
        plane: FakeControlPlane, audit_log: AuditLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Arrange: a server whose token lives only in the state directory, as `run` starts it
    from cluster.app.cli_control import EXIT_OK, main
    from cluster.foundation.domain import settings as settings_module

    monkeypatch.setenv("TRADING_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("TRADING_CONTROL_API__TOKEN", raising=False)
    settings_module.settings.cache_clear()
    control = with_token(ControlApiSettings(), tmp_path)
    try:
        with ApiServer(plane, control, audit_log, port=0) as server:
            # Act
            code = main(["status", "--json", "--api", server.url])
    finally:
        settings_module.settings.cache_clear()
    # Assert
    assert code == EXIT_OK
    assert json.loads(capsys.readouterr().out)["breaker"] == {"state": "closed"}


# --- 2. Origin, Host and Content-Type -----------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://localhost",
                                    "http://127.0.0.1"])
def test_kill_when_origin_is_another_site_then_403_and_nothing_runs(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, origin: str) -> None:
    reply = call(server.url, "POST", "/kill", KILL, token=TOKEN, headers={"Origin": origin})
    assert reply.status == 403
    assert reply.body["error"]["code"] == "forbidden"
    assert plane.calls == [] and audit_log.records == []


def test_kill_when_origin_is_the_api_itself_then_accepted(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "POST", "/kill", KILL, token=TOKEN, headers={"Origin": server.url})
    assert reply.status == 200
    assert [name for name, _ in plane.calls] == ["kill"]


@pytest.mark.parametrize("host", [b"attacker.example", b"attacker.example:8180", b"127.0.0.1.attacker.example",
                                  b"localhost.attacker.example:8180", b"[::2]:8180", b""])
def test_request_when_host_header_names_another_server_then_403(
        server: ApiServer, plane: FakeControlPlane, host: bytes) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header gives it away.
    body = json.dumps(KILL).encode()
    reply = send_raw(server.port, request_bytes("POST", "/kill", server.port, host=host, body=body, headers={
        "Authorization": AUTH["Authorization"].encode(), "Content-Type": b"application/json"}))
    assert reply.status == 403
    assert plane.calls == []


@pytest.mark.parametrize("host", [b"127.0.0.1:{port}", b"localhost:{port}", b"LOCALHOST:{port}", b"localhost",
                                  b"127.0.0.1:18180"])  # 18180: a kubectl port-forward's local port
def test_request_when_host_header_is_a_loopback_name_then_served(server: ApiServer, host: bytes) -> None:
    reply = send_raw(server.port, request_bytes("GET", "/status", server.port,
                                                host=host.replace(b"{port}", str(server.port).encode()),
                                                headers={"Authorization": AUTH["Authorization"].encode()}))
    assert reply.status == 200


def test_request_when_host_is_in_allowed_hosts_then_served(plane: FakeControlPlane, audit_log: AuditLog) -> None:
    settings = ControlApiSettings(token=SecretStr(TOKEN), allowed_hosts=("trading-control.trading.svc",))
    with ApiServer(plane, settings, audit_log, port=0) as server:
        reply = send_raw(server.port, request_bytes(
            "GET", "/status", server.port, host=b"trading-control.trading.svc:8180",
            headers={"Authorization": AUTH["Authorization"].encode()}))
    assert reply.status == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_post_when_body_is_not_declared_json_then_415_and_nothing_runs(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, content_type: str) -> None:
    reply = call(server.url, "POST", "/breaker/reset", raw=json.dumps({"reason": "x"}).encode(), token=TOKEN,
                 headers={"Content-Type": content_type})
    assert reply.status == 415
    assert reply.body["error"]["code"] == "unsupported_media_type"
    assert plane.calls == [] and audit_log.records == []


def test_post_when_json_with_charset_then_accepted(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = call(server.url, "POST", "/breaker/trip", {"reason": "x"}, token=TOKEN,
                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert reply.status == 200


# --- 3. no 500s ---------------------------------------------------------------------------------


def test_request_when_authorization_has_a_non_utf8_byte_then_400_naming_the_header(server: ApiServer) -> None:
    reply = send_raw(server.port, request_bytes("GET", "/status", server.port,
                                                headers={"Authorization": b"Bearer \xff\xfe" + TOKEN.encode()}))
    assert reply.status == 400
    assert "Authorization" in reply.json()["error"]["message"]


@pytest.mark.parametrize(("body", "words"), [
    (b'{"reason": "\xff\xfe"}', "UTF-8"),
    (b"[" * 10_000 + b"]" * 10_000, "nested"),
    (b'{"reason": ' + b"[" * 10_000, "nested"),
    (b'{"reason": "x"', "JSON"),
])
def test_post_when_body_is_invalid_utf8_deep_or_broken_then_400_with_a_clear_message(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, body: bytes, words: str) -> None:
    reply = send_raw(server.port, request_bytes("POST", "/breaker/trip", server.port, body=body, headers={
        "Authorization": AUTH["Authorization"].encode(), "Content-Type": b"application/json"}))
    assert reply.status == 400
    assert words in reply.json()["error"]["message"]
    assert plane.calls == [] and audit_log.records == []


# --- 10. reason and operator ----------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["drill\x00", "a\x1b[2Jb", "line\nbreak", "tab\there", "\u202eevil",
                                    "x\u2066y\u2069", "\u200fz", "del\x7f"])
def test_post_when_reason_has_nul_control_or_bidi_characters_then_400(
        server: ApiServer, plane: FakeControlPlane, audit_log: AuditLog, reason: str) -> None:
    reply = call(server.url, "POST", "/breaker/trip", {"reason": reason}, token=TOKEN)
    assert reply.status == 400
    assert "'reason'" in reply.body["error"]["message"]
    assert plane.calls == [] and audit_log.records == []


def test_post_when_operator_header_ends_in_a_newline_then_400(server: ApiServer, plane: FakeControlPlane) -> None:
    reply = send_raw(server.port, request_bytes("POST", "/breaker/trip", server.port, body=b'{"reason": "x"}',
                                                headers={"Authorization": AUTH["Authorization"].encode(),
                                                         "Content-Type": b"application/json",
                                                         "X-Operator": b"alice\xc2\x85"}))
    assert reply.status == 400
    assert plane.calls == []


def test_url_when_bound_to_every_interface_then_clients_are_pointed_at_loopback(
        plane: FakeControlPlane, audit_log: AuditLog) -> None:
    settings = ControlApiSettings(host="0.0.0.0", token=SecretStr(TOKEN))
    with ApiServer(plane, settings, audit_log, port=0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert call(server.url, "GET", "/status", token=TOKEN).status == 200
