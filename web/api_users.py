"""User management API, admin only — the list included (SPEC 11.6, 12.2). Changing one's own
password needs the current one (``old_password``); the last admin cannot be deleted or
demoted (409)."""

from __future__ import annotations

import msgspec
from quart import Blueprint, Response

from actors.handle import LastAdmin, UnknownUser, UserError, UserExists
from web.auth import admin_only, current_session
from web.common import ApiError, engine, json_response, read_json

bp = Blueprint("users", __name__, url_prefix="/api/users")


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str
    role: str = "operator"


class UserChange(msgspec.Struct, forbid_unknown_fields=True):
    password: str | None = None
    role: str | None = None
    old_password: str | None = None  # required to change one's own password


def _refused(exc: UserError) -> ApiError:
    details = {"field": exc.field}
    if isinstance(exc, UnknownUser):
        return ApiError(404, "not_found", exc.message, details)
    if isinstance(exc, (UserExists, LastAdmin)):
        return ApiError(409, "conflict", exc.message, details)
    return ApiError(422, "invalid", exc.message, details)


@bp.get("")
@admin_only
async def list_users() -> Response:
    return json_response({"users": engine().users.list()})


@bp.post("")
async def add_user() -> Response:
    body = await read_json(NewUser)
    try:
        await engine().users.add(body.username, body.password, body.role,
                                 by=current_session().username)
    except UserError as exc:
        raise _refused(exc) from None
    return json_response({"username": body.username, "role": body.role}, 201)


@bp.put("/<name>")
async def change_user(name: str) -> Response:
    body = await read_json(UserChange)
    if body.password is None and body.role is None:
        raise ApiError(400, "bad_request", "give password and/or role", {"field": "password"})
    me = current_session().username
    if body.password is not None and name == me and not (
            body.old_password is not None
            and await engine().users.password_matches(me, body.old_password)):
        raise ApiError(422, "invalid", "to change your own password, give your current one "
                       "correctly in old_password", {"field": "old_password"})
    try:
        await engine().users.update(name, password=body.password, role=body.role,
                                    by=current_session().username)
    except UserError as exc:
        raise _refused(exc) from None
    return json_response({"username": name, "changed": [k for k in ("password", "role")
                                                        if getattr(body, k) is not None]})


@bp.delete("/<name>")
async def delete_user(name: str) -> Response:
    try:
        await engine().users.delete(name, by=current_session().username)
    except UserError as exc:
        raise _refused(exc) from None
    return json_response({"username": name, "deleted": True})
