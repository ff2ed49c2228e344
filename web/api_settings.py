"""The Settings page's administration routes (SPEC 11.5 F, 11.6, 12.2, 12.3) beside
web/api_config.py (view, save, preview, apply, versions) and web/api_users.py (users):

- ``GET /api/config/schema``: every key with label, unit, range, help, section, Apply effect;
- ``GET /api/config/export``: engine.toml as a download;
- ``POST /api/config/import`` (the file as the body, ≤ 1 MiB), ``POST /api/config/reset`` and
  ``POST /api/config/versions/{id}/restore``: previewed, written only with ``confirm``
  (query ``?confirm=true`` for the import, ``{"confirm": true}`` for the others);
- ``POST /api/config/preview/ladder``: the ladder a draft places for a symbol and notional;
- ``GET /api/secrets``, ``PUT /api/secrets/{name}``, ``POST /api/secrets/webhook_secret/generate``
  (write-only: answers carry masked values, the generated secret once), ``POST /api/exchange/test``;
- ``GET /api/backup``: the ``engine backup`` archive, streamed.

Every state change needs the admin role and the CSRF header (web/auth.py); the secret list and
the backup are admin-only reads. Invalid input answers 422 listing every problem by key path.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Literal

import msgspec
from quart import Blueprint, Response, request

from actors.handle import ActionRefused, ConfigRefused
from web.api_config import config_refused
from web.api_groups import refused
from web.auth import admin_only, current_session
from web.common import ApiError, engine, json_response, read_json

bp = Blueprint("settings", __name__)


def _no_store(response: Response) -> Response:
    """Answers about secrets are never cached by the browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


class Confirm(msgspec.Struct, forbid_unknown_fields=True):
    confirm: bool = False


class LadderQuery(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str
    notional: Decimal
    text: str | None = None
    changes: dict[str, Any] | None = None
    timeframe: int = 60
    side: Literal["long", "short"] = "long"
    pyramid: int = 0
    price: Decimal | None = None


class SecretValue(msgspec.Struct, forbid_unknown_fields=True):
    value: str


def _user() -> str:
    return current_session().username


async def _config_call(coro: Any) -> Response:
    try:
        return json_response(await coro)
    except ConfigRefused as exc:
        raise config_refused(exc) from None
    except ActionRefused as exc:
        raise refused(exc) from None


# --- the configuration file ------------------------------------------------------------------
@bp.get("/api/config/schema")
async def config_schema() -> Response:
    return json_response(engine().config_files.schema())


@bp.get("/api/config/export")
async def config_export() -> Response:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(engine().clock_ms() / 1000))
    try:
        text = engine().config_files.export()
    except ConfigRefused as exc:
        raise config_refused(exc) from None
    return _no_store(Response(text, content_type="application/toml; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="engine-{stamp}.toml"'}))


@bp.post("/api/config/import")
async def config_import() -> Response:
    files = engine().config_files
    confirm = request.args.get("confirm", "").lower() in ("1", "true", "yes")
    try:
        text = files.decode(await request.get_data())
    except ConfigRefused as exc:
        raise config_refused(exc) from None
    return await _config_call(files.replace(text, action="import", user=_user(),
                                            confirm=confirm))


@bp.post("/api/config/reset")
async def config_reset() -> Response:
    body = await read_json(Confirm)
    files = engine().config_files
    return await _config_call(files.replace(files.reset_text(), action="reset", user=_user(),
                                            confirm=body.confirm))


@bp.post("/api/config/versions/<int:version_id>/restore")
async def config_restore(version_id: int) -> Response:
    body = await read_json(Confirm)
    files = engine().config_files
    try:
        text = files.version_text(version_id)
    except ActionRefused as exc:
        raise refused(exc) from None
    return await _config_call(files.replace(text, action="restore", user=_user(),
                                            confirm=body.confirm))


@bp.post("/api/config/preview/ladder")
async def ladder_preview() -> Response:
    q = await read_json(LadderQuery)
    if (q.text is not None) and (q.changes is not None):
        raise ApiError(400, "bad_request", "give text or changes, not both", {"field": "text"})
    for name, ok in (("symbol", bool(q.symbol.strip())), ("notional", q.notional > 0),
                     ("timeframe", q.timeframe > 0), ("pyramid", 0 <= q.pyramid <= 9),
                     ("price", q.price is None or q.price > 0)):
        if not ok:
            raise ApiError(422, "invalid", f"{name}: out of range", {"field": name})
    try:
        result = engine().ladder_preview.preview(
            text=q.text, changes=q.changes, symbol=q.symbol, timeframe=q.timeframe, side=q.side,
            pyramid=q.pyramid, notional=q.notional, price=q.price)
    except ConfigRefused as exc:
        raise config_refused(exc) from None
    return json_response(result)


# --- secrets -------------------------------------------------------------------------------
@bp.get("/api/secrets")
@admin_only
async def secrets_list() -> Response:
    return _no_store(json_response({"secrets": engine().secret_admin.masked()}))


@bp.put("/api/secrets/<name>")
async def secret_set(name: str) -> Response:
    body = await read_json(SecretValue)
    try:
        result = engine().secret_admin.set(name, body.value, user=_user())
    except ConfigRefused as exc:
        error = config_refused(exc)  # the problem itself as the message: one field, one reason
        error.message = "; ".join(f"{p.path}: {p.message}" for p in exc.problems)
        error.details["field"] = exc.problems[0].path if exc.problems else name
        raise error from None
    return _no_store(json_response(result))


@bp.post("/api/secrets/webhook_secret/generate")
async def webhook_secret_generate() -> Response:
    value, result = engine().secret_admin.generate(user=_user())
    # the one answer that carries a secret: shown once so it can be pasted into the alert
    return _no_store(json_response({**result, "secret": value, "shown_once": True}))


@bp.post("/api/exchange/test")
async def exchange_test() -> Response:
    return await _config_call(engine().secret_admin.test_exchange())


# --- backup --------------------------------------------------------------------------------
@bp.get("/api/backup")
@admin_only
async def backup() -> Response:
    try:
        archive = await engine().backups.prepare()
    except ActionRefused as exc:
        raise ApiError(503, exc.code, exc.message) from None
    response = _no_store(Response(archive.chunks(), mimetype="application/gzip", headers={
        "Content-Disposition": f'attachment; filename="{archive.name}"'}))
    response.timeout = None  # a large database takes longer than the default 60 s
    return response
