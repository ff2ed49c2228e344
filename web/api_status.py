"""Status API: ``/healthz`` (no session), ``/api/status``, ``/api/logs`` (+ export),
``/api/alerts`` (+ dismiss, admin) and ``/api/inbox`` (accepted signals and their processing
state) — SPEC 11.6."""

from __future__ import annotations

import msgspec
from quart import Blueprint, Response

from actors.handle import ActionRefused
from web.auth import current_session
from web.common import ApiError, engine, json_response, read_query

bp = Blueprint("status", __name__)


class LogFilters(msgspec.Struct, forbid_unknown_fields=True):
    level: str | None = None
    category: str | None = None
    symbol: str | None = None
    timeframe: int | None = None
    event: str | None = None
    from_ms: int | None = msgspec.field(name="from", default=None)
    to_ms: int | None = msgspec.field(name="to", default=None)
    q: str | None = None

    def as_kwargs(self) -> dict:
        return {f: getattr(self, f) for f in self.__struct_fields__}


class LogPage(LogFilters, forbid_unknown_fields=True):
    cursor: str | None = None
    limit: int = msgspec.field(default=100)


class LogExport(LogFilters, forbid_unknown_fields=True):
    format: str = "json"


class InboxQuery(msgspec.Struct, forbid_unknown_fields=True):
    state: str | None = None
    cursor: int | None = None
    limit: int = 100


@bp.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": engine().status})


@bp.get("/api/status")
async def status() -> Response:
    return json_response(engine().status_view())


@bp.get("/api/logs")
async def logs() -> Response:
    query = read_query(LogPage)
    try:
        rows, cursor = engine().query_logs(**query.as_kwargs())
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc), {"field": str(exc).split(":")[0]}) from None
    return json_response({"events": rows, "next_cursor": cursor})


@bp.get("/api/logs/export")
async def logs_export() -> Response:
    query = read_query(LogExport)
    filters = query.as_kwargs()
    fmt = filters.pop("format")
    try:
        text, content_type = engine().export_logs(fmt, **filters)
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc), {"field": str(exc).split(":")[0]}) from None
    disposition = f'attachment; filename="engine-logs.{fmt}"'
    return Response(text, content_type=content_type,
                    headers={"Content-Disposition": disposition})


@bp.get("/api/alerts")
async def alerts() -> Response:
    return json_response(engine().alerts_view())


@bp.post("/api/alerts/<int:alert_id>/dismiss")
async def dismiss_alert(alert_id: int) -> Response:
    try:
        answer = await engine().dismiss_alert(alert_id, user=current_session().username)
    except ActionRefused as exc:
        raise ApiError(404, exc.code, exc.message) from None
    return json_response(answer)


@bp.get("/api/inbox")
async def inbox() -> Response:
    query = read_query(InboxQuery)
    try:
        entries, cursor = engine().inbox.entries(state=query.state, cursor=query.cursor,
                                                 limit=query.limit)
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc), {"field": "state"}) from None
    return json_response({"entries": entries, "next_cursor": cursor})
