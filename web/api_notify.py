"""``POST /api/notifications/test`` (admin): a test message to every configured notification
channel now, for the console's "send test notification" button.

Answers ``{"ok", "results": {channel: "sent" | reason}, "message"}``; 409 ``not_configured``
when no channel has its secret (and Telegram its chat id). Reasons never carry the bot token or
the webhook URL.
"""

from __future__ import annotations

from quart import Blueprint, Response

from web.auth import current_session
from web.common import ApiError, engine, json_response

bp = Blueprint("notify", __name__)


@bp.post("/api/notifications/test")
async def notifications_test() -> Response:
    results = await engine().notifier.send_test(user=current_session().username)
    if not results:
        raise ApiError(409, "not_configured", "no notification channel is configured: set "
                       "notifications.telegram_bot_token and notifications.telegram_chat_id, "
                       "or notifications.webhook_url")
    ok = all(r == "sent" for r in results.values())
    return json_response({"ok": ok, "results": results,
                          "message": "test notification sent" if ok else
                          "; ".join(r for r in results.values() if r != "sent")})
