"""Panels A, B and D and the engine controls (SPEC 11.2, 11.4, 11.5, 11.6): ``/api/dashboard``,
``/api/groups`` (+ detail and manual close), ``/api/queue`` (+ promote / force-add / remove)
and ``/api/engine/pause|resume|reconnect``.

Reads are answered by the handle's read models; actions go to the engine core through the
handle, whose refusals (``ActionRefused``: ``not_running`` 503, ``not_found`` 404,
``conflict`` 409) become the SPEC 11.6 error answers. Session, CSRF and the admin role are
checked by ``web.auth.guard`` before any of these runs.
"""

from __future__ import annotations

from typing import Any

import msgspec
from quart import Blueprint, Response

from actors.handle import ActionRefused
from engine.errors import InvalidInput
from web.auth import current_session
from web.common import ApiError, engine, json_response, read_query

bp = Blueprint("groups", __name__)

REFUSAL_STATUS = {"not_found": 404, "conflict": 409, "not_paper": 409, "not_running": 503,
                  "bad_request": 400}


class GroupFilters(msgspec.Struct, forbid_unknown_fields=True):
    status: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    side: str | None = None


def bad_input(exc: InvalidInput) -> ApiError:
    return ApiError(400, "bad_request", f"{exc.field}: {exc.message}", {"field": exc.field})


def refused(exc: ActionRefused) -> ApiError:
    return ApiError(REFUSAL_STATUS.get(exc.code, 409), exc.code, exc.message)


def _user() -> str:
    return current_session().username


async def _act(op: str, *args: Any, **extra: Any) -> Response:
    """An engine operation through the handle; its refusal (``ActionRefused``) as HTTP."""
    try:
        answer = await getattr(engine(), op)(*args, user=_user())
    except ActionRefused as exc:
        raise refused(exc) from None
    return json_response({**answer, **extra})


# --- reads ----------------------------------------------------------------------------------


@bp.get("/api/dashboard")
async def dashboard() -> Response:
    return json_response(engine().dashboard())


@bp.get("/api/groups")
async def groups() -> Response:
    filters = read_query(GroupFilters)
    try:
        return json_response(engine().groups_view(
            status=filters.status, symbol=filters.symbol, timeframe=filters.timeframe,
            side=filters.side))
    except InvalidInput as exc:
        raise bad_input(exc) from None


@bp.get("/api/groups/<int:group_id>")
async def group(group_id: int) -> Response:
    found = engine().group_view(group_id)
    if found is None:
        raise ApiError(404, "not_found", f"no group {group_id} (a Waiting row's id is a queue"
                       " entry id: see /api/queue)", {"id": group_id})
    return json_response(found)


@bp.get("/api/queue")
async def queue() -> Response:
    return json_response(engine().queue_view())


# --- actions (admin) --------------------------------------------------------------------------


@bp.post("/api/groups/<int:group_id>/close")
async def close_group(group_id: int) -> Response:
    return await _act("close_group", group_id, group_id=group_id)


@bp.post("/api/queue/<int:entry_id>/promote")
async def queue_promote(entry_id: int) -> Response:
    return await _act("queue_action", entry_id, "promote", entry_id=entry_id)


@bp.post("/api/queue/<int:entry_id>/force-add")
async def queue_force_add(entry_id: int) -> Response:
    return await _act("queue_action", entry_id, "force_add", entry_id=entry_id)


@bp.delete("/api/queue/<int:entry_id>")
async def queue_remove(entry_id: int) -> Response:
    return await _act("queue_action", entry_id, "remove", entry_id=entry_id)


@bp.post("/api/engine/pause")
async def pause() -> Response:
    response = await _act("pause")
    engine().touch("status")
    return response


@bp.post("/api/engine/resume")
async def resume() -> Response:
    response = await _act("resume")
    engine().touch("status")
    return response


@bp.post("/api/engine/reconnect")
async def reconnect() -> Response:
    handle = engine()
    try:
        answer = handle.reconnect(user=_user())
    except ActionRefused as exc:
        raise refused(exc) from None
    handle.touch("status")
    return json_response(answer)
