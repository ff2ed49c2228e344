"""Panel C and the Risk Engine controls (SPEC 7.7, 11.5 C, 11.6): ``GET /api/risk``,
``GET /api/risk/actions``, ``POST /api/risk/run`` (body ``{"force": bool}``) and
``POST /api/risk/groups/{id}/skip-once|block|unblock``.

Session, CSRF and the admin role of the POST routes are checked by ``web.auth.guard``; the
engine answers through the handle, whose refusals become SPEC 11.6 errors (404 unknown group,
409 closed group or paused engine, 503 engine not running).
"""

from __future__ import annotations

import msgspec
from quart import Blueprint, Response

from actors.handle import ActionRefused
from web.api_groups import refused
from web.auth import current_session
from web.common import ApiError, engine, json_response, read_json, read_query

bp = Blueprint("risk", __name__)


class RunBody(msgspec.Struct, forbid_unknown_fields=True):
    force: bool = False


class ActionsQuery(msgspec.Struct, forbid_unknown_fields=True):
    limit: int = 50
    before: int | None = None


@bp.get("/api/risk")
async def panel() -> Response:
    try:
        return json_response(engine().risk_view())
    except ActionRefused as exc:
        raise refused(exc) from None


@bp.get("/api/risk/actions")
async def actions() -> Response:
    query = read_query(ActionsQuery)
    if not 1 <= query.limit <= 1000:
        raise ApiError(400, "bad_request", f"limit: expected 1..1000, got {query.limit}",
                       {"field": "limit"})
    return json_response({"actions": engine().risk_actions(limit=query.limit,
                                                           before_id=query.before)})


@bp.post("/api/risk/run")
async def run_now() -> Response:
    body = await read_json(RunBody)
    try:
        cycle = await engine().risk_run(force=body.force, user=current_session().username)
    except ActionRefused as exc:
        raise refused(exc) from None
    return json_response({"cycle": cycle})


@bp.post("/api/risk/groups/<int:group_id>/<any('skip-once', 'block', 'unblock'):op>")
async def control(group_id: int, op: str) -> Response:
    try:
        flags = await engine().risk_control(group_id, op, user=current_session().username)
    except ActionRefused as exc:
        raise refused(exc) from None
    return json_response(flags)
