"""``GET /api/groups/{id}/chart``: a group's price chart — bars, levels, fills (the console's
group detail draws it). Served by ``handle.charts`` (``actors/market/chart.py``)."""

from __future__ import annotations

from quart import Blueprint, Response

from web.common import ApiError, engine, json_response

bp = Blueprint("chart", __name__)


@bp.get("/api/groups/<int:group_id>/chart")
async def group_chart(group_id: int) -> Response:
    charts = engine().charts
    if charts is None:
        raise ApiError(503, "starting", "the engine is starting: the chart is available once "
                       "it runs; try again in a few seconds")
    answer = charts.chart(group_id)
    if answer is None:
        raise ApiError(404, "not_found", f"no group {group_id}")
    return json_response(answer)
