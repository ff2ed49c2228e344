"""``POST /api/signals/check``: the dry run of an alert message — what the engine would do
with it (the intake's refusals, the normalised signal, the target group and pyramid, the ladder
or the refusal with its fix), computed by the real path's steps; nothing is stored or traded.

Any session may ask (operators read; it changes nothing), with the CSRF header as every POST.
The body is the alert message exactly as TradingView would send it (text or JSON).
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from web.common import engine, json_response

bp = Blueprint("signals", __name__)


@bp.post("/api/signals/check")
async def check() -> Response:
    raw = await request.get_data()
    return json_response(engine().signal_check.check(raw))
