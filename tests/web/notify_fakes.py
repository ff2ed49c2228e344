"""Loopback fakes of the two notification receivers, served for real by hypercorn on
127.0.0.1: Telegram's Bot API (``POST /bot<token>/sendMessage``) and a chat webhook
(``POST /hook``, Discord-style: 204). Each can answer, fail (500), throttle (429) or hang."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import hypercorn.config
import hypercorn.trio
import trio

BOT_TOKEN = "123456:planted-bot-token-ABCDEFGHIJ"


@dataclass
class Receiver:
    mode: str = "ok"  # ok | fail | hang | throttle
    fail_times: int = 0  # with "ok": fail this many requests first
    bodies: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    paths: list[str] = field(default_factory=list)

    def texts(self) -> str:
        return "\n".join(str(b.get("text") or b.get("content") or "") for b in self.bodies)


class FakeEndpoints:
    def __init__(self) -> None:
        self.telegram = Receiver()
        self.webhook = Receiver()
        self.url = ""

    async def app(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        target = self.telegram if path.startswith("/bot") else self.webhook
        target.attempts += 1
        target.paths.append(path)
        if target.mode == "hang":
            await trio.sleep_forever()
        if target.mode == "throttle":
            return await _answer(send, 429, {"ok": False, "parameters": {"retry_after": 1}})
        if target.mode == "fail" or target.fail_times > 0:
            target.fail_times -= 1
            return await _answer(send, 500, {"ok": False, "description": "boom"})
        target.bodies.append(json.loads(body))
        if target is self.telegram:
            return await _answer(send, 200, {"ok": True, "result": {"message_id": 1}})
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _answer(send: Any, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


@asynccontextmanager
async def fake_endpoints() -> AsyncIterator[FakeEndpoints]:
    fakes = FakeEndpoints()
    config = hypercorn.config.Config()
    config.bind = ["127.0.0.1:0"]
    config.graceful_timeout = 0.1
    config.accesslog = config.errorlog = None
    async with trio.open_nursery() as nursery:
        stop = trio.Event()
        urls = await nursery.start(partial(hypercorn.trio.serve, fakes.app, config,
                                           shutdown_trigger=stop.wait))
        fakes.url = urls[0]
        try:
            yield fakes
        finally:
            stop.set()
            nursery.cancel_scope.cancel()
