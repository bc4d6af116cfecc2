"""JSON in and out: Alpaca-shaped responses and a strict request-body reader."""

from __future__ import annotations

import json

from aiohttp import web

from alpaca_sim.models import CODE_VALIDATION, SimRejection


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def decode_json(raw: bytes | str) -> object:
    """Strict JSON (no NaN/Infinity, no lone surrogates check needed); ValueError on anything else,
    including nesting too deep to parse and invalid UTF-8."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8: {exc.reason}") from None


async def read_json(request: web.Request, *, empty_ok: bool = False) -> object:
    raw = await request.read()
    if not raw.strip() and empty_ok:
        return None
    try:
        return decode_json(raw)
    except ValueError as exc:
        raise SimRejection(422, CODE_VALIDATION, f"request body is not valid JSON: {exc}") from None
