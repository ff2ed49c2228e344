"""Catalogue entries (see ``fields.py``) of the operations keys: metrics and notifications."""

from engine.config.fields_types import LOGGING, SECURITY, Field
from engine.config.model import NOTIFY_EVENTS

OPERATIONS_FIELDS: dict[str, Field] = {
    "app.metrics_enabled": Field(SECURITY, "Prometheus metrics", "Serve GET /metrics for a "
                                 "Prometheus scraper; it needs the metrics token as a bearer "
                                 "token."),
    "app.metrics_token": Field(SECURITY, "Metrics token", "Bearer token a scraper sends to "
                               "read /metrics."),
    "notifications.enabled": Field(LOGGING, "Notifications", "Send the chosen events to "
                                   "Telegram and/or a chat webhook. Outbound only."),
    "notifications.telegram_chat_id": Field(LOGGING, "Telegram chat id", "Chat, group or "
                                            "channel id the bot writes to; empty: no "
                                            "Telegram."),
    "notifications.webhook_format": Field(LOGGING, "Webhook format", "discord and slack post "
                                          "their message shape; json posts the events as "
                                          "they are."),
    "notifications.events": Field(LOGGING, "Notified events", "Which events are sent.",
                                  choices=NOTIFY_EVENTS),
    "notifications.batch_sec": Field(LOGGING, "Batch window", "Events within this many "
                                     "seconds go out together as one message.", "s", ge=1,
                                     le=3600),
    "notifications.timeout_sec": Field(LOGGING, "Delivery timeout", "Longest wait for one "
                                       "delivery attempt; a failed one is retried later.",
                                       "s", ge=1, le=60),
    "notifications.queue_limit": Field(LOGGING, "Notification queue", "Events waiting for "
                                       "delivery beyond this many are dropped.", ge=10,
                                       le=100000),
    "notifications.telegram_bot_token": Field(LOGGING, "Telegram bot token", "Token of the "
                                              "bot that sends the messages."),
    "notifications.webhook_url": Field(LOGGING, "Chat webhook URL", "Discord, Slack or any "
                                       "receiver of JSON posts; it carries its own secret."),
}
