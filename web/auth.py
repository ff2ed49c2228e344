"""Sessions for the UI and the API (SPEC 12.2, 11.6): login, logout, me, and the guard every
``/api/`` request passes — a session (401), the ``X-CSRF-Token`` header on state-changing
calls (403 ``csrf``) and the admin role for them (403 ``forbidden``).

The session cookie is HttpOnly, SameSite=Strict and Secure when served over TLS; only a hash of
its token is stored. Operators read; every state-changing route is admin-only unless listed in
``OPERATOR_WRITES``; admin-only reads use ``admin_only``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import msgspec
import trio
from quart import Blueprint, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from actors.handle import LoginRefused, Session
from web.common import ApiError, client_ip, engine, is_tls, json_response, read_json

COOKIE = "engine_session"
DRAIN_S = 2
MAX_ID = 2**63 - 1
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_API = frozenset({"/api/auth/login"})
OPERATOR_WRITES = frozenset({"auth.logout", "signals.check"})

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


def session_body(session: Session) -> dict[str, Any]:
    return {"username": session.username, "role": session.role,
            "csrf_token": session.csrf_token, "expires_at": session.expires_at}


def current_session() -> Session:
    return g.session


async def guard() -> None:
    """``before_request``: session, CSRF and role checks for every ``/api/`` route."""
    if not request.path.startswith("/api/") or request.path in PUBLIC_API:
        return
    session = engine().users.session(request.cookies.get(COOKIE))
    if session is None:
        raise ApiError(401, "unauthorized", "login required (no session or session expired)")
    g.session = session
    if request.method not in SAFE_METHODS:
        token = request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"),
                                   session.csrf_token.encode("utf-8")):
            raise ApiError(403, "csrf", "missing or wrong X-CSRF-Token header")
        if session.role != "admin" and request.endpoint not in OPERATOR_WRITES:
            raise ApiError(403, "forbidden", "this action needs the admin role",
                           {"role": session.role})
    for name, value in (request.view_args or {}).items():
        # a path id beyond SQLite's INTEGER names nothing, and would overflow the engine's query
        if isinstance(value, int) and value > MAX_ID:
            raise ApiError(404, "not_found", f"no {name} {value}", {"field": name})


@bp.after_app_request
async def finish_body(response: Response) -> Response:
    """Read what is left of the request body before answering. hypercorn 0.18 with quart-trio
    0.12 leaves a keep-alive connection open but dead when the answer goes out before the body
    was received (a refusal by the guard, a view that ignores its body): the next request on it
    never gets an answer. A body that does not arrive in time or is too large closes instead."""
    try:
        with trio.fail_after(DRAIN_S):
            await request.body
    except (RequestEntityTooLarge, trio.TooSlowError):
        response.headers["Connection"] = "close"
    return response


def admin_only(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """For reads operators may not see (the user list, backups)."""

    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_session().role != "admin":
            raise ApiError(403, "forbidden", "this page needs the admin role",
                           {"role": current_session().role})
        return await view(*args, **kwargs)

    return wrapper


@bp.post("/login")
async def login() -> Response:
    body = await read_json(LoginBody)
    handle = engine()
    ip = client_ip(handle.config.security.trust_forwarded_for)
    try:
        token, session = await handle.users.login(
            body.username, body.password, source_ip=ip,
            user_agent=request.headers.get("User-Agent"))
    except LoginRefused as exc:
        if exc.retry_after_ms is not None:
            retry = (exc.retry_after_ms + 999) // 1000
            raise ApiError(429, "locked", str(exc), {"retry_after_s": retry}) from None
        raise ApiError(401, "invalid_credentials", str(exc)) from None
    response = json_response(session_body(session))
    max_age = max(0, (session.expires_at - handle.clock_ms()) // 1000)
    response.set_cookie(COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="Strict", secure=is_tls())
    return response


@bp.post("/logout")
async def logout() -> Response:
    await engine().users.logout(request.cookies.get(COOKIE, ""))
    response = json_response({"status": "logged_out"})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=is_tls())
    return response


@bp.get("/me")
async def me() -> Response:
    return json_response(session_body(current_session()))
