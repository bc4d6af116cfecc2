"""Logging set-up: human lines by default, one JSON object per line with logging.json_format."""

from __future__ import annotations

import json
import logging
import sys
import time

from cluster.foundation.domain.settings import LoggingSettings

_EXTRA_KEYS = ("actor", "group", "client_order_id", "correlation_id", "symbol")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _EXTRA_KEYS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(settings: LoggingSettings, verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, settings.level)
    handler = logging.StreamHandler(sys.stderr)
    if settings.json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
