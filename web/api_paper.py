"""Precision metadata and the paper exchange (SPEC 11.6, 12.6): ``GET /api/precision``,
``POST /api/precision/refresh`` (admin), ``POST /api/paper/price`` (admin, paper only),
``GET /api/paper/state`` and ``POST /api/paper/reset`` (admin; 409 while a group is not
Closed/Failed or the queue is not empty)."""

from __future__ import annotations

from typing import Any

import msgspec
from quart import Blueprint, Response

from actors.handle import ActionRefused
from engine.errors import InvalidInput
from web.api_groups import bad_input, refused
from web.auth import current_session
from web.common import engine, json_response, read_json, read_query

bp = Blueprint("paper", __name__)


class PrecisionQuery(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str | None = None


class PriceBody(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str
    price: Any  # "60000.00" (a decimal string) or a JSON number read as a Decimal


@bp.get("/api/precision")
async def precision() -> Response:
    return json_response(engine().precision_view(read_query(PrecisionQuery).symbol))


@bp.post("/api/precision/refresh")
async def precision_refresh() -> Response:
    try:
        return json_response(engine().refresh_precision(user=current_session().username), 202)
    except ActionRefused as exc:
        raise refused(exc) from None


@bp.post("/api/paper/price")
async def paper_price() -> Response:
    body = await read_json(PriceBody)
    try:
        answer = await engine().paper_push_price(body.symbol, body.price,
                                                 user=current_session().username)
    except InvalidInput as exc:
        raise bad_input(exc) from None
    except ActionRefused as exc:
        raise refused(exc) from None
    return json_response(answer)


@bp.get("/api/paper/state")
async def paper_state() -> Response:
    try:
        return json_response(engine().paper_state())
    except ActionRefused as exc:
        raise refused(exc) from None


@bp.post("/api/paper/reset")
async def paper_reset() -> Response:
    try:
        return json_response(await engine().paper_reset(user=current_session().username))
    except ActionRefused as exc:
        raise refused(exc) from None
