"""Performance & Portfolio Dashboard routes (SPEC 11.3, 11.6): ``GET /api/analytics/summary``,
``/equity``, ``/trades``, ``/distribution``, ``/heatmap``, ``/daily``, ``/allocation``,
``/ladder`` and ``/risk-ledger``.

Every route is a read (operators too, SPEC 11.1) answered by ``handle.analytics`` off the trio
thread. A bad parameter is a 400 naming it and its allowed values; an unknown parameter is a
400 too. ``pair``, ``timeframe`` and ``strategy`` filter the trade figures.
"""

from __future__ import annotations

import msgspec
from quart import Blueprint, Response

from engine.analytics.definitions import Filters
from engine.errors import InvalidInput
from web.api_groups import bad_input
from web.common import ApiError, engine, json_response, read_query

bp = Blueprint("analytics", __name__)


class Query(msgspec.Struct, forbid_unknown_fields=True):
    period: str | None = None
    kind: str | None = None
    format: str | None = None
    sort: str | None = None
    limit: int | None = None
    points: int | None = None
    days: int | None = None
    pair: str | None = None
    timeframe: int | None = None
    strategy: str | None = None

    def filters(self) -> Filters:
        return Filters(pair=self.pair or None, timeframe=self.timeframe,
                       strategy=self.strategy or None)


def _service():
    service = getattr(engine(), "analytics", None)
    if service is None:
        raise ApiError(503, "unavailable", "analytics are not available in this process")
    return service


async def _answer(method: str, *args) -> Response:
    try:
        return json_response(await getattr(_service(), method)(*args))
    except InvalidInput as exc:
        raise bad_input(exc) from None


@bp.get("/api/analytics/summary")
async def summary() -> Response:
    query = read_query(Query)
    return await _answer("summary", query.period, query.filters())


@bp.get("/api/analytics/equity")
async def equity() -> Response:
    query = read_query(Query)
    try:
        answer = await _service().equity(query.kind, query.format, query.period, query.points)
    except InvalidInput as exc:
        raise bad_input(exc) from None
    if isinstance(answer, str):
        kind = query.kind or "total"
        return Response(answer, content_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="equity-{kind}.csv"'})
    return json_response(answer)


@bp.get("/api/analytics/trades")
async def trades() -> Response:
    query = read_query(Query)
    return await _answer("trades", query.sort, query.limit, query.period, query.filters())


@bp.get("/api/analytics/distribution")
async def distribution() -> Response:
    query = read_query(Query)
    return await _answer("distribution", query.period, query.filters())


@bp.get("/api/analytics/heatmap")
async def heatmap() -> Response:
    query = read_query(Query)
    return await _answer("heatmap", query.period, query.filters())


@bp.get("/api/analytics/ladder")
async def ladder() -> Response:
    query = read_query(Query)
    return await _answer("ladder", query.period, query.filters())


@bp.get("/api/analytics/daily")
async def daily() -> Response:
    return await _answer("daily", read_query(Query).days)


@bp.get("/api/analytics/allocation")
async def allocation() -> Response:
    read_query(Query)
    return await _answer("allocation")


@bp.get("/api/analytics/risk-ledger")
async def risk_ledger() -> Response:
    read_query(Query)
    return await _answer("risk_ledger")
