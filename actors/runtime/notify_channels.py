"""The two outbound channels of the notifier: Telegram's Bot API and a generic JSON webhook
(Discord, Slack or anything that takes a JSON POST).

Owns: nothing but its address; every call takes the shared ``httpx.AsyncClient``.
Receives: ``deliver(client, notices)`` from the notifier's sender loop or its test action.
Sends: one HTTPS POST per call — Telegram ``sendMessage`` to the configured chat, or the
webhook body of ``engine/notify.py``.
Fails how: ``DeliveryFailed`` for anything but a 2xx answer (network error, timeout, refusal),
with the wait the receiver asked for (``retry_after`` of a 429) when it gave one. The message
never names the bot token or the webhook URL (both are secrets): only the channel and status.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from engine.notify import Notice, message, webhook_body

TELEGRAM_API = "https://api.telegram.org"
TELEGRAM_API_ENV = "ENGINE_TELEGRAM_API_URL"  # a relay or a local fake; the default otherwise


class DeliveryFailed(Exception):
    def __init__(self, reason: str, retry_after_s: float | None = None):
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class Telegram:
    name = "telegram"

    def __init__(self, token: str, chat_id: str, *, instance: str = "",
                 api: str | None = None):
        self._token = token
        self.chat_id = chat_id
        self.instance = instance
        self.api = (api or os.environ.get(TELEGRAM_API_ENV) or TELEGRAM_API).rstrip("/")

    async def deliver(self, client: httpx.AsyncClient, notices: list[Notice]) -> None:
        body = {"chat_id": self.chat_id, "text": message(notices, "telegram", self.instance),
                "disable_web_page_preview": True}
        answer = await _post(client, f"{self.api}/bot{self._token}/sendMessage", body,
                             self.name)
        if answer.status_code == 429:
            retry = _json(answer).get("parameters", {}).get("retry_after")
            raise DeliveryFailed("telegram: 429 too many requests",
                                 float(retry) if isinstance(retry, (int, float)) else None)
        if answer.status_code >= 300 or _json(answer).get("ok") is not True:
            description = str(_json(answer).get("description", ""))[:200]
            raise DeliveryFailed(f"telegram: HTTP {answer.status_code} {description}".strip())


class Webhook:
    name = "webhook"

    def __init__(self, url: str, fmt: str, *, instance: str = ""):
        self._url = url
        self.fmt = fmt
        self.instance = instance

    async def deliver(self, client: httpx.AsyncClient, notices: list[Notice]) -> None:
        answer = await _post(client, self._url, webhook_body(notices, self.fmt, self.instance),
                             self.name)
        if answer.status_code == 429:
            retry = answer.headers.get("retry-after") or _json(answer).get("retry_after")
            try:
                wait = float(retry) if retry is not None else None
            except ValueError:
                wait = None
            raise DeliveryFailed("webhook: 429 too many requests", wait)
        if answer.status_code >= 300:
            raise DeliveryFailed(f"webhook: HTTP {answer.status_code}")


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any],
                name: str) -> httpx.Response:
    try:
        return await client.post(url, json=body)
    except httpx.TimeoutException:
        raise DeliveryFailed(f"{name}: no answer in time") from None
    except httpx.HTTPError as exc:  # its text may carry the URL, and so the secret
        raise DeliveryFailed(f"{name}: {type(exc).__name__}") from None


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
