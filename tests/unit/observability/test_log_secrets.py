"""Log lines carry the structured fields, and never a secret, even when settings are logged."""

from __future__ import annotations

import json
import logging

from pydantic import SecretStr

from cluster.foundation.domain.settings import load_settings
from cluster.foundation.runtime.logs import JsonFormatter

SECRET = "s3cr3t-value-that-must-not-leak"


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("trading.execution", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def _settings_with_secrets():  # type: ignore[no-untyped-def]
    base = load_settings()
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": SecretStr(f"postgresql://trader:{SECRET}@db/trading")}),
        "alpaca": base.alpaca.model_copy(update={"key_id": SecretStr(SECRET), "secret_key": SecretStr(SECRET)}),
    })


def test_json_formatter_when_settings_are_logged_then_secret_value_is_absent() -> None:
    settings = _settings_with_secrets()
    formatter = JsonFormatter()
    lines = [
        formatter.format(_record("starting with %s", settings)),
        formatter.format(_record("database %r", settings.database)),
        formatter.format(_record("alpaca", actor="execution", correlation_id=settings.alpaca.key_id)),
        logging.Formatter("%(message)s").format(_record("settings %s", settings.model_dump())),
    ]
    assert settings.alpaca.key_id is not None and settings.alpaca.key_id.get_secret_value() == SECRET
    for line in lines:
        assert SECRET not in line
    assert "**********" in lines[0]


def test_json_formatter_when_order_fields_are_given_then_they_are_top_level_keys() -> None:
    line = JsonFormatter().format(_record(
        "order sent: %s", "tc-1", actor="execution", client_order_id="tc-1", symbol="IBM", correlation_id="batch-3",
        group="g0",
    ))
    out = json.loads(line)
    assert out["message"] == "order sent: tc-1"
    assert (out["actor"], out["client_order_id"], out["symbol"], out["correlation_id"], out["group"]) == (
        "execution", "tc-1", "IBM", "batch-3", "g0")


def test_json_formatter_when_an_unknown_extra_is_given_then_it_is_not_printed() -> None:
    out = json.loads(JsonFormatter().format(_record("x", password=SECRET)))
    assert "password" not in out and SECRET not in json.dumps(out)
