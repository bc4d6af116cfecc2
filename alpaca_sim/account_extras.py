"""Calendar, account configurations, and the account endpoints this simulator does not model.

GET /v2/calendar comes from the NYSE calendar (holidays, half days); the configurations are kept
per simulator and echo what PATCH sets. Account activities, watchlists by name, corporate actions and
options answer 422 with a message naming them, as Alpaca answers a request it will not serve.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from alpaca_sim import sessions
from alpaca_sim.jsonio import json_response, read_json
from alpaca_sim.models import CODE_UNPROCESSABLE, CODE_VALIDATION, SimRejection
from alpaca_sim.timefmt import NEW_YORK


class Configurations:
    """What PATCH /v2/account/configurations has set, over Alpaca's defaults."""

    def __init__(self) -> None:
        self.changed: dict[str, Any] = {}

    def current(self) -> dict[str, Any]:
        return {**_DEFAULTS, **self.changed}


CONFIGURATIONS: web.AppKey[Configurations] = web.AppKey("configurations", Configurations)
_DEFAULTS: dict[str, Any] = {
    "dtbp_check": "entry", "trade_confirm_email": "all", "suspend_trade": False, "no_shorting": False,
    "fractional_trading": True, "max_margin_multiplier": "4", "max_options_trading_level": 0, "pdt_check": "entry",
    "ptp_no_exception_entry": False,
}
_CHOICES = {"dtbp_check": {"both", "entry", "exit"}, "trade_confirm_email": {"all", "none"},
            "pdt_check": {"both", "entry", "exit"}, "max_margin_multiplier": {"1", "2", "4"}}
_UNSUPPORTED = ["/v2/account/activities", "/v2/watchlists:by_name",
                "/v2/corporate_actions/announcements", "/v2/options/contracts"]


def routes() -> list[web.RouteDef]:
    unsupported = [web.route("*", path, _unsupported) for path in _UNSUPPORTED]
    unsupported += [web.route("*", path + "/{rest:.*}", _unsupported) for path in _UNSUPPORTED]
    return [
        web.get("/v2/calendar", calendar),
        web.get("/v2/account/configurations", get_configurations),
        web.patch("/v2/account/configurations", patch_configurations),
        *unsupported,
    ]


def _day(raw: str | None, name: str, fallback: date) -> date:
    if raw is None:
        return fallback
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise SimRejection(422, CODE_VALIDATION, f"invalid {name}: {raw[:40]!r}, want YYYY-MM-DD") from None


def _hhmm(ts_ns: int, sep: str = ":") -> str:
    local = datetime.fromtimestamp(ts_ns / 1e9, tz=NEW_YORK)
    return f"{local.hour:02d}{sep}{local.minute:02d}"


async def calendar(request: web.Request) -> web.Response:
    start = _day(request.query.get("start"), "start", date(1998, 1, 1))
    end = _day(request.query.get("end"), "end", date(2030, 12, 31))
    if end < start:
        return json_response([])
    days = sessions.between(start, end)
    return json_response([{
        "date": s.day.isoformat(), "open": _hhmm(s.open_ns), "close": _hhmm(s.close_ns),
        "session_open": _hhmm(s.pre_ns, ""), "session_close": _hhmm(s.post_ns, ""),
        "settlement_date": sessions.settlement_day(s.day, 2 if s.day < date(2024, 5, 28) else 1).isoformat(),
    } for s in days])


async def get_configurations(request: web.Request) -> web.Response:
    return json_response(request.app[CONFIGURATIONS].current())


async def patch_configurations(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise SimRejection(422, CODE_VALIDATION, "request body must be a JSON object")
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _DEFAULTS:
            raise SimRejection(422, CODE_VALIDATION, f"unknown configuration: {str(key)[:40]!r}")
        wanted = type(_DEFAULTS[key])
        if not isinstance(value, wanted) or isinstance(value, bool) != isinstance(_DEFAULTS[key], bool) or (
                key in _CHOICES and value not in _CHOICES[key]):
            raise SimRejection(422, CODE_VALIDATION, f"invalid value for {key}")
        if key in ("no_shorting", "suspend_trade", "max_margin_multiplier") and value != _DEFAULTS[key]:
            raise SimRejection(422, CODE_UNPROCESSABLE, f"changing {key} is not supported by this simulator")
        changes[key] = value
    request.app[CONFIGURATIONS].changed.update(changes)
    return json_response(request.app[CONFIGURATIONS].current())


async def _unsupported(request: web.Request) -> web.Response:
    path = request.path if len(request.path) <= 60 else request.path[:60] + "..."
    raise SimRejection(422, CODE_UNPROCESSABLE, f"{request.method} {path} is not supported by this simulator")
