"""``GET /metrics``: the Prometheus exposition of ``handle.metrics`` (actors/runtime/metrics.py).

Absent (404) unless ``app.metrics_enabled``; then it needs ``Authorization: Bearer <token>``
with the secret ``app.metrics_token`` (``engine secrets set app.metrics_token`` or
``ENGINE_METRICS_TOKEN``) — 401 otherwise, also while no token is stored. Not under ``/api/``:
Prometheus has no session, only the token.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from web.common import ApiError, engine

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
async def metrics() -> Response:
    source = engine().metrics
    if not source.enabled():
        raise ApiError(404, "not_found", "metrics are off (app.metrics_enabled = false)")
    if not source.authorised(request.headers.get("Authorization")):
        response = Response('{"error": "unauthorized", "message": "Authorization: Bearer '
                            '<app.metrics_token> required", "details": {}}', status=401,
                            content_type="application/json")
        response.headers["WWW-Authenticate"] = 'Bearer realm="engine metrics"'
        return response
    body, content_type = source.scrape()
    return Response(body, content_type=content_type)
