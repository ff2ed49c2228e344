"""Configuration API (SPEC 10.1, 11.6): view, save (PUT), preview, apply, versions.

A draft is either the full TOML ``text`` or ``changes`` — ``{"dotted.key": value}`` edits of
the file that keep its comments. Invalid drafts answer 422 with one problem per key; Apply of
an exchange-identity change while anything is open answers 409.
"""

from __future__ import annotations

from typing import Any

import msgspec
from quart import Blueprint, Response

from actors.handle import ConfigRefused, problem_dicts
from web.auth import current_session
from web.common import ApiError, engine, json_response, read_json, read_query

bp = Blueprint("config", __name__, url_prefix="/api/config")


class Draft(msgspec.Struct, forbid_unknown_fields=True):
    text: str | None = None
    changes: dict[str, Any] | None = None

    def check(self) -> None:
        if (self.text is None) == (self.changes is None):
            raise ApiError(400, "bad_request", "give exactly one of text or changes",
                           {"field": "text" if self.text is None else "changes"})


class VersionsQuery(msgspec.Struct, forbid_unknown_fields=True):
    limit: int = 100


def config_refused(exc: ConfigRefused) -> ApiError:
    details = {"problems": problem_dicts(exc.problems)}
    if exc.conflict:
        return ApiError(409, "conflict", str(exc), details)
    return ApiError(422, "invalid_config", "the configuration is invalid", details)


async def _draft() -> Draft:
    draft = await read_json(Draft)
    draft.check()
    return draft


@bp.get("")
async def view() -> Response:
    try:
        return json_response(engine().configuration.view())
    except ConfigRefused as exc:
        raise config_refused(exc) from None


@bp.put("")
async def save() -> Response:
    draft = await _draft()
    try:
        result = await engine().configuration.save(text=draft.text, changes=draft.changes,
                                                   user=current_session().username)
    except ConfigRefused as exc:
        raise config_refused(exc) from None
    return json_response({"saved": True, **result})


@bp.post("/preview")
async def preview() -> Response:
    draft = await _draft()
    try:
        return json_response(engine().configuration.preview(text=draft.text,
                                                            changes=draft.changes))
    except ConfigRefused as exc:
        raise config_refused(exc) from None


@bp.post("/apply")
async def apply() -> Response:
    try:
        result = await engine().apply_config(user=current_session().username)
    except ConfigRefused as exc:
        raise config_refused(exc) from None
    return json_response({"applied": True, **result})


@bp.get("/versions")
async def versions() -> Response:
    query = read_query(VersionsQuery)
    return json_response({"versions": engine().configuration.versions(query.limit)})


@bp.get("/versions/<int:version_id>")
async def version(version_id: int) -> Response:
    found = engine().configuration.version(version_id)
    if found is None:
        raise ApiError(404, "not_found", f"no configuration version {version_id}")
    return json_response(found)
