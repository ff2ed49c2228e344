"""The Quart-Trio application: blueprints, the ``/api/`` guard and the error answers.

Every error is JSON: the webhook's own ``{"status": ...}`` answers, and the SPEC 11.6 shape
``{"error", "message", "details"}`` everywhere else. Unexpected exceptions are logged with their
stack trace and answered 500 without internals.
"""

from __future__ import annotations

import logging

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from actors.handle import EngineHandle
from web import api_config, api_groups, api_paper, api_status, api_users, auth, live, webhook
from web import api_risk  # R5: Panel C and the Risk Engine controls
from web import api_chart  # GET /api/groups/{id}/chart
from web import api_settings  # Settings page: schema, import/export, secrets, backup
from web import metrics  # GET /metrics (Prometheus)
from web import api_notify  # POST /api/notifications/test
from web import api_tradingview, docs_route  # /api/tradingview, replay; /docs
from web import console  # the operator console: app shell, /static/, headers
from web import api_analytics  # /api/analytics/*: the Performance page
from web import api_signals  # POST /api/signals/check: a webhook's dry run
from web.connections import ShieldedSend
from web.headers import SecurityHeaders
from web.common import ApiError, error_response
from web.throttle import AuthThrottle

MAX_API_BODY = 1024 * 1024

log = logging.getLogger("engine.system")


def create_app(handle: EngineHandle) -> QuartTrio:
    app = QuartTrio(__name__, static_folder=None)  # web/console.py serves /static/
    # a doubled slash (or %2F) must not be redirected to another path — e.g. another user's
    app.url_map.merge_slashes = False
    app.config.update(MAX_CONTENT_LENGTH=MAX_API_BODY, BODY_TIMEOUT=10, JSON_SORT_KEYS=False)
    app.extensions["engine"] = handle
    app.extensions["webhook_throttle"] = AuthThrottle()
    for blueprint in (auth.bp, api_status.bp, api_config.bp, api_users.bp,
                      api_groups.bp, api_paper.bp, live.bp, api_risk.bp, metrics.bp,
                      api_notify.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(api_settings.bp)
    for blueprint in (docs_route.bp, api_tradingview.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(api_chart.bp)
    app.register_blueprint(api_analytics.bp)
    app.register_blueprint(api_signals.bp)
    app.register_blueprint(console.bp)  # last: its catch-all shell route
    app.before_request(auth.guard)

    @app.errorhandler(ApiError)
    async def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(status, code, exc.description or exc.name or "error")

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        log.error(f"unexpected error answering {request.method} {request.path}", exc_info=exc,
                  extra={"event": "http_error"})
        return error_response(500, "internal", "internal error (logged)")

    # POST /webhook is answered in front of Quart, on the same server (web/webhook.py says why)
    app.asgi_app = webhook.WebhookLane(app.asgi_app, handle, app.extensions["webhook_throttle"])
    app.asgi_app = SecurityHeaders(ShieldedSend(app.asgi_app))
    return app
