"""Secrets stay secret: no database password in a Ray Job or the retrain output, keys never in a repr,
and never sent unencrypted to another machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from actors.execution.alpaca_rest import AlpacaClientConfig
from cluster.app.models_control import retrain
from cluster.foundation.domain.errors import ConfigError
from cluster.foundation.domain.settings import Settings, load_settings
from models import jobs

PASSWORD = "hunter2-Xq9"
PG_URL = f"postgresql+psycopg2://trader:{PASSWORD}@db.internal:5432/trading"


def _settings(url: str, tmp_path: Path) -> Settings:
    base = load_settings()
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": SecretStr(url)}),
        "signal": base.signal.model_copy(update={"model_dir": str(tmp_path / "models")}),
        "ray": base.ray.model_copy(update={"auth_mode": "disabled"}),
    })


class RecordingJobClient:
    """The part of JobSubmissionClient submit_retrain uses, remembering what it was given."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []

    def submit_job(self, **kwargs: Any) -> str:
        self.submitted.append(kwargs)
        return "raysubmit_1"

    def get_job_status(self, job_id: str) -> str:
        return "SUCCEEDED"

    def get_job_logs(self, job_id: str) -> str:
        return ""


def test_retrain_when_database_url_has_a_password_then_the_job_gets_a_reference_not_the_password(
        tmp_path: Path) -> None:
    # Arrange
    client = RecordingJobClient()

    def submit(url: str, args: list[str], token: str | None) -> str:
        return jobs.submit_retrain(url, args, token, client_factory=lambda address, headers: client)

    # Act
    result = retrain(_settings(PG_URL, tmp_path), ["--rounds", "20"], address="127.0.0.1:8265", environ={},
                     home=tmp_path, submit=submit)
    # Assert
    shown = json.dumps(client.submitted) + json.dumps(result)
    assert PASSWORD not in shown
    assert "--registry-url env:TRADING_DATABASE__URL" in client.submitted[0]["entrypoint"]
    assert client.submitted[0]["runtime_env"] is None


def test_retrain_when_database_is_sqlite_then_its_path_is_passed_as_before(tmp_path: Path) -> None:
    client = RecordingJobClient()
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    jobs.submit_retrain("127.0.0.1:8265", ["--registry-url", url], None,
                        client_factory=lambda address, headers: client)
    assert url in client.submitted[0]["entrypoint"]


def test_submit_retrain_when_an_argument_holds_a_password_then_config_error_and_nothing_submitted() -> None:
    client = RecordingJobClient()
    with pytest.raises(ConfigError, match="by reference") as raised:
        jobs.submit_retrain("127.0.0.1:8265", ["--registry-url", PG_URL], None,
                            client_factory=lambda address, headers: client)
    assert client.submitted == []
    assert PASSWORD not in str(raised.value)


def test_resolve_secret_ref_when_variable_is_set_then_its_value_else_config_error() -> None:
    assert jobs.resolve_secret_ref("env:TRADING_DATABASE__URL", {"TRADING_DATABASE__URL": PG_URL}) == PG_URL
    assert jobs.resolve_secret_ref("sqlite:///x.db", {}) == "sqlite:///x.db"
    with pytest.raises(ConfigError, match="TRADING_DATABASE__URL is not set"):
        jobs.resolve_secret_ref("env:TRADING_DATABASE__URL", {})


def test_retrain_cli_when_database_url_has_a_password_then_it_is_not_printed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Arrange: the password comes from the environment, as in production
    from cluster.app.cli import main

    monkeypatch.setenv("TRADING_DATABASE__URL", PG_URL)
    monkeypatch.setenv("TRADING_RAY__AUTH_MODE", "disabled")
    client = RecordingJobClient()
    real_submit = jobs.submit_retrain
    monkeypatch.setattr(jobs, "submit_retrain", lambda url, args, token: real_submit(
        url, args, token, client_factory=lambda address, headers: client))
    # Act
    code = main(["retrain", "--address", "127.0.0.1:8265", "--", "--rounds", "5"])
    # Assert
    out = capsys.readouterr()
    assert code == 0
    assert PASSWORD not in out.out + out.err
    assert "env:TRADING_DATABASE__URL" in json.loads(out.out)["entrypoint"]


def test_alpaca_client_config_when_printed_then_keys_are_hidden() -> None:
    config = AlpacaClientConfig("https://paper-api.alpaca.markets", "AKID-REAL-123", "very-secret-key")
    assert "AKID-REAL-123" not in repr(config) and "very-secret-key" not in repr(config)
    assert config.auth_headers() == {"APCA-API-KEY-ID": "AKID-REAL-123", "APCA-API-SECRET-KEY": "very-secret-key"}


@pytest.mark.parametrize(("trading_url", "stream_url"), [
    ("http://paper-api.alpaca.markets", None),
    ("https://paper-api.alpaca.markets", "ws://paper-api.alpaca.markets/stream"),
    ("http://192.168.1.7:8190", None),
])
def test_alpaca_client_config_when_a_remote_url_is_not_tls_then_config_error(
        trading_url: str, stream_url: str | None) -> None:
    with pytest.raises(ConfigError, match="unencrypted"):
        AlpacaClientConfig(trading_url, "AKID", "secret", stream_url=stream_url)


def test_alpaca_client_config_when_loopback_simulator_then_plain_http_is_fine() -> None:
    config = AlpacaClientConfig("http://127.0.0.1:8190", "AKID", "secret")
    assert config.trade_stream_url == "ws://127.0.0.1:8190/stream"


@pytest.mark.parametrize(("host", "url"), [("0.0.0.0", "http://127.0.0.1:8265"), ("::", "http://127.0.0.1:8265"),
                                           ("::1", "http://[::1]:8265"), ("127.0.0.1", "http://127.0.0.1:8265")])
def test_dashboard_url_when_dashboard_binds_a_wildcard_then_jobs_go_to_loopback(host: str, url: str) -> None:
    from cluster.app.models_control import dashboard_url

    ray = load_settings().ray.model_copy(update={"dashboard_host": host, "dashboard_port": 8265})
    assert dashboard_url(ray) == url


def test_broker_configs_when_the_clusters_own_simulator_on_a_node_address_then_plain_http_allowed():
    # the simulator `run` starts on the driver node's address, with keys made for that run
    from actors.execution.alpaca_rest import AlpacaClientConfig
    from actors.market_data.alpaca_feed_config import AlpacaFeedConfig
    from cluster.foundation.domain.errors import ConfigError
    from cluster.foundation.domain.settings import AlpacaSettings

    own = AlpacaSettings(trading_url="http://10.1.2.3:8190", data_url="ws://10.1.2.3:8190",
                         key_id=SecretStr("sim-k"), secret_key=SecretStr("sim-s"), simulated=True)
    assert AlpacaClientConfig.from_settings(own).own_simulator
    assert AlpacaFeedConfig.from_settings(own).own_simulator
    real = own.model_copy(update={"simulated": False})
    with pytest.raises(ConfigError, match="unencrypted"):
        AlpacaClientConfig.from_settings(real)
    with pytest.raises(ConfigError, match="unencrypted"):
        AlpacaFeedConfig.from_settings(real)
