"""The SPEC 11.6 API table as data, the app's own route table and its own authorization rules,
for the route-by-route security sweep.

``SPEC_ROUTES`` is the table row by row: ``admin`` marks routes operators cannot call; in a
row that also lists a ``GET`` the mark covers the other routes only, unless the row says
otherwise (the users row: the ``GET`` included). ``{x}`` is a path parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quart_trio import QuartTrio

from web import auth
from web.app import create_app

PUBLIC, SESSION, ADMIN = "public", "session", "admin"

SPEC_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/webhook", PUBLIC),
    ("GET", "/healthz", PUBLIC),
    ("POST", "/api/auth/login", PUBLIC),
    ("POST", "/api/auth/logout", SESSION),
    ("GET", "/api/auth/me", SESSION),
    ("GET", "/api/status", SESSION),
    ("POST", "/api/engine/pause", ADMIN),
    ("POST", "/api/engine/resume", ADMIN),
    ("POST", "/api/engine/reconnect", ADMIN),
    ("GET", "/api/dashboard", SESSION),
    ("GET", "/api/groups", SESSION),
    ("GET", "/api/groups/{id}", SESSION),
    ("POST", "/api/groups/{id}/close", ADMIN),
    ("GET", "/api/risk", SESSION),
    ("POST", "/api/risk/run", ADMIN),
    ("POST", "/api/risk/groups/{id}/skip-once", ADMIN),
    ("POST", "/api/risk/groups/{id}/block", ADMIN),
    ("POST", "/api/risk/groups/{id}/unblock", ADMIN),
    ("GET", "/api/queue", SESSION),
    ("POST", "/api/queue/{id}/promote", ADMIN),
    ("POST", "/api/queue/{id}/force-add", ADMIN),
    ("DELETE", "/api/queue/{id}", ADMIN),
    ("GET", "/api/logs", SESSION),
    ("GET", "/api/logs/export", SESSION),
    ("GET", "/api/alerts", SESSION),
    ("POST", "/api/alerts/{id}/dismiss", ADMIN),
    ("POST", "/api/webhooks/{id}/replay", ADMIN),
    ("GET", "/api/config", SESSION),
    ("PUT", "/api/config", ADMIN),
    ("POST", "/api/config/preview", ADMIN),
    ("POST", "/api/config/apply", ADMIN),
    ("GET", "/api/config/export", SESSION),
    ("POST", "/api/config/import", ADMIN),
    ("POST", "/api/config/reset", ADMIN),
    ("GET", "/api/config/versions", SESSION),
    ("PUT", "/api/secrets/{name}", ADMIN),
    ("GET", "/api/precision", SESSION),
    ("POST", "/api/precision/refresh", ADMIN),
    ("GET", "/api/analytics/summary", SESSION),
    ("GET", "/api/analytics/equity", SESSION),
    ("GET", "/api/analytics/trades", SESSION),
    ("GET", "/api/analytics/distribution", SESSION),
    ("GET", "/api/analytics/heatmap", SESSION),
    ("GET", "/api/analytics/daily", SESSION),
    ("GET", "/api/analytics/allocation", SESSION),
    ("GET", "/api/backup", ADMIN),
    ("GET", "/api/users", ADMIN),
    ("POST", "/api/users", ADMIN),
    ("PUT", "/api/users/{name}", ADMIN),
    ("DELETE", "/api/users/{name}", ADMIN),
    ("POST", "/api/paper/price", ADMIN),
    ("GET", "/api/paper/state", SESSION),
    ("POST", "/api/paper/reset", ADMIN),
    ("GET", "/api/ws", SESSION),
)

_PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
_SPEC_PARAM = re.compile(r"\{\w+\}")


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # the app's rule text
    path: str  # a concrete path
    shape: str  # the path with parameters as ``*`` (SPEC lookups)
    endpoint: str
    websocket: bool
    app_access: str  # what the app's own rules say: public / session / admin


def shape(path: str) -> str:
    """A path with every parameter replaced by ``*`` (SPEC ``{id}`` and concrete ids alike)."""
    return _SPEC_PARAM.sub("*", path)


def concrete_paths(rule: str, values: dict[str, str]) -> list[tuple[str, str]]:
    """``(concrete path, shape)`` for a rule; an ``any(...)`` converter gives one per option."""
    paths = [("", "")]
    pos = 0
    for m in _PARAM.finditer(rule):
        literal = rule[pos:m.start()]
        converter, args, name = m.groups()
        if converter == "any":
            options = [o.strip().strip("'\"") for o in args.split(",")]
            paths = [(p + literal + o, s + literal + o) for p, s in paths for o in options]
        else:
            value = values.get(name) or values.get(converter or "string") or "1"
            paths = [(p + literal + value, s + literal + "*") for p, s in paths]
        pos = m.end()
    return [(p + rule[pos:], s + rule[pos:]) for p, s in paths]


def _is_admin_only(view) -> bool:
    """Whether ``view`` is wrapped by ``web.auth.admin_only`` (every wrapper shares its code)."""
    probe = auth.admin_only(_probe)
    return getattr(view, "__code__", None) is probe.__code__


async def _probe() -> None:
    return None


def app_access(app: QuartTrio, method: str, rule_text: str, endpoint: str) -> str:
    """The access the app's own guard and decorators give a route (``web.auth``)."""
    if not rule_text.startswith("/api/") or rule_text in auth.PUBLIC_API:
        return PUBLIC
    view = app.view_functions[endpoint]
    if method not in auth.SAFE_METHODS and endpoint not in auth.OPERATOR_WRITES:
        return ADMIN
    return ADMIN if _is_admin_only(view) else SESSION


def app_routes(values: dict[str, str] | None = None) -> list[Route]:
    """Every (method, concrete path) the application serves, with the app's own access rule.

    The route table does not depend on the engine handle, so the app is built without one."""
    app = create_app(None)  # type: ignore[arg-type]
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for path, path_shape in concrete_paths(rule.rule, values or {}):
                out.append(Route(method=method, rule=rule.rule, path=path, shape=path_shape,
                                 endpoint=rule.endpoint, websocket=bool(rule.websocket),
                                 app_access=app_access(app, method, rule.rule, rule.endpoint)))
    return out


def spec_access(method: str, path_shape: str) -> str | None:
    for m, p, access in SPEC_ROUTES:
        if m == method and shape(p) == path_shape:
            return access
    return None


def spec_routes_missing(routes: list[Route]) -> list[tuple[str, str]]:
    """SPEC session/admin routes the app's url_map lacks (the public ones — the webhook may be
    served by an ASGI lane in front of the app — are exercised directly by the tests)."""
    served = {(r.method, r.shape) for r in routes}
    return [(m, p) for m, p, access in SPEC_ROUTES
            if access != PUBLIC and (m, shape(p)) not in served]
