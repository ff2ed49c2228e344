"""The TradingView setup API and Webhook Replay (SPEC 11.5 E, 11.6).

``GET /api/tradingview`` (any session): the webhook URL — ``app.public_url`` + ``/webhook``, else
built from the address the browser used — and the alert template with every placeholder. The
secret never leaves the server: the template carries its masked form (or a hint while none is
set) and the answer says where the real one comes from.

``POST /api/webhooks/{inbox_id}/replay`` (admin, only with ``logging.webhook_replay_enabled``):
a stored webhook goes through intake again as if it had just arrived — its stored body parsed
and validated again, then accepted like a new one, so every duplicate rule applies (the 60 s
idempotency window and, when it is processed, the same-candle rule). Authentication is not
repeated (the stored body's secret is masked anyway). The replay is a new inbox row whose
source says which row it replays.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from actors.handle import IntakeUnavailable
from engine.masking import mask
from engine.intake import check_webhook
from engine.signals import WebhookRejected
from engine.tradingview import PLACEHOLDERS, SECRET_SLOT, alert_template
from web.auth import current_session
from web.common import ApiError, engine, is_tls, json_response
from web.webhook import PATH as WEBHOOK_PATH
from web.webhook import log as webhook_log

bp = Blueprint("tradingview", __name__)
SECRET_NAME = "security.webhook_secret"
NO_SECRET = "SET-A-WEBHOOK-SECRET-FIRST"


def webhook_url() -> tuple[str, str]:
    """The URL to paste into TradingView, and where it comes from."""
    public = engine().config.app.public_url.strip().rstrip("/")
    if public:
        return public + WEBHOOK_PATH, "app.public_url"
    host = request.host
    if engine().config.security.trust_forwarded_for:
        host = request.headers.get("X-Forwarded-Host", host).split(",")[-1].strip() or host
    return f"{'https' if is_tls() else 'http'}://{host}{WEBHOOK_PATH}", "request"


@bp.get("/api/tradingview")
async def setup() -> Response:
    handle = engine()
    security = handle.config.security
    secret = handle.webhook_secret()
    url, source = webhook_url()
    shown = mask(secret) if secret else NO_SECRET
    return json_response({
        "webhook_url": url,
        "webhook_url_source": source,
        "public_url_set": source == "app.public_url",
        "template": alert_template(shown),
        "placeholders": PLACEHOLDERS,
        "secret": {
            "set": secret is not None,
            "masked": mask(secret) if secret else None,
            "source": handle.secrets.source(SECRET_NAME),
            "slot": SECRET_SLOT,
            "required": security.webhook_signature_validation,
            "hmac_required": security.webhook_hmac_required,
        },
        "replay_enabled": handle.config.logging.webhook_replay_enabled,
    })


@bp.post("/api/webhooks/<int:inbox_id>/replay")
async def replay(inbox_id: int) -> Response:
    handle = engine()
    cfg = handle.config
    if not cfg.logging.webhook_replay_enabled:
        raise ApiError(409, "replay_disabled", "Webhook Replay is off: set "
                       "logging.webhook_replay_enabled = true (Settings, Logging) and Apply",
                       {"field": "logging.webhook_replay_enabled"})
    row = handle.inbox.get(inbox_id)
    if row is None:
        raise ApiError(404, "not_found", f"no inbox entry {inbox_id}", {"id": inbox_id})
    raw = row["raw_body"] or ""
    try:  # the webhook's own checks, the configuration's included (a missing order size)
        signal = check_webhook(raw.encode("utf-8", "surrogatepass"), cfg, handle.markets(),
                               secret_required=False)
    except WebhookRejected as exc:
        errors = [{"field": e.field, "message": e.message} for e in exc.errors]
        raise ApiError(422, "rejected", f"inbox entry {inbox_id} is no longer a valid signal",
                       {"errors": errors}) from None
    user = current_session().username
    try:
        outcome, new_id = await handle.accept(signal, raw, f"replay of #{inbox_id}",
                                              handle.clock_ms())
    except IntakeUnavailable as exc:
        raise ApiError(503, "unavailable", f"replay not stored: {exc}") from None
    webhook_log.info(f"webhook {inbox_id} replayed by {user}: {outcome}", extra={
        "event": "webhook_replayed", "symbol": signal.symbol, "timeframe": signal.timeframe,
        "data": {"replay_of": inbox_id, "inbox_id": new_id, "outcome": outcome, "user": user}})
    return json_response({"status": outcome, "id": new_id, "replay_of": inbox_id})
