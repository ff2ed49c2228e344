"""The web stack of ``tests/web/conftest.py`` plus the real engine core (paper exchange, market
data, precision refresher, gateway, supervisor, queue) started against the same handle, as the
daemon runs it; a WebSocket client for ``/api/ws``; and ``eventually`` for asynchronous effects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from actors.read.patch import apply_patch
from actors.runtime.core import run_core
from tests.web.conftest import Engine, payload, running_engine
from web.auth import COOKIE as COOKIE_NAME

LTC = "LTCUSDT"  # tick 0.01, step 0.001 in the bundled exchange info


@asynccontextmanager
async def engine_with_core(tmp_path: Path, **kw: Any) -> AsyncIterator[Engine]:
    async with running_engine(tmp_path, **kw) as eng:
        async with trio.open_nursery() as nursery:
            handle = eng.handle
            await nursery.start(partial(run_core, config=handle.config, store=eng.store,
                                        handle=handle, secrets=handle.secrets))
            try:
                yield eng
            finally:
                nursery.cancel_scope.cancel()


def entry(symbol: str = LTC, *, timeframe: str = "60", side: str = "buy", price: float = 100.0,
          size: float = 1000.0, ts: str = "2025-11-10T12:00:00Z",
          intent: str = "signal") -> dict:
    """A SPEC 2.9 entry sized in quote currency (1000 USDT at 100 → the D2 ladder)."""
    return payload(**{
        "tv.symbol": symbol, "tv.timeframe": timeframe, "tv.entry_price": price,
        "tv.close_price": price, "tv.order_size": size, "timestamp": ts,
        "tv.action": side, "tv.market_position": "long" if side == "buy" else "short",
        "execution_intent.side": side, "execution_intent.type": intent,
        "execution_intent.position_size_type": "quote"})


async def eventually(check: Callable[[], Any], *, timeout: float = 30.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    with trio.fail_after(timeout):
        while True:
            result = check()
            if hasattr(result, "__await__"):
                result = await result
            if result:
                return result
            await trio.sleep(0.02)


async def get_json(client: httpx.AsyncClient, path: str, status: int = 200) -> Any:
    r = await client.get(path)
    assert r.status_code == status, r.text
    return r.json()


class LiveClient:
    """``/api/ws`` through the websockets client (its blocking API in a worker thread)."""

    def __init__(self, conn: ClientConnection):
        self.conn = conn
        self.payloads: dict[str, Any] = {}  # the newest whole payload per topic


    @classmethod
    async def open(cls, eng: Engine, client: httpx.AsyncClient | None) -> LiveClient:
        headers = {}
        if client is not None:
            headers["Cookie"] = f"{COOKIE_NAME}={client.cookies.get(COOKIE_NAME)}"
        url = eng.url.replace("http://", "ws://") + "/api/ws"
        conn = await trio.to_thread.run_sync(partial(
            connect, url, additional_headers=headers, proxy=None, open_timeout=30,
            compression=None, legacy=True))
        return cls(conn)

    async def receive(self, timeout: float = 30.0) -> dict:
        """The next message; a ``patch`` is applied as the console does, so ``data`` is always
        the topic's whole payload (the patch itself stays in ``patch``)."""
        message = json.loads(await trio.to_thread.run_sync(self.conn.recv, timeout))
        if message["kind"] == "patch":
            message["patch"] = message["data"]
            message["data"] = apply_patch(self.payloads[message["topic"]], message["patch"])
        self.payloads[message["topic"]] = message["data"]
        return message

    async def drain(self, quiet: float) -> list[dict]:
        """Every message until none arrives for ``quiet`` seconds."""
        out = []
        while True:
            try:
                out.append(await self.receive(quiet))
            except TimeoutError:
                return out

    async def until(self, predicate: Callable[[dict], bool], timeout: float = 30.0) -> dict:
        with trio.fail_after(timeout):
            while True:
                message = await self.receive(timeout)
                if predicate(message):
                    return message

    async def newest(self, checks: dict[str, Callable[[dict], bool]],
                     timeout: float = 30.0) -> dict[str, dict]:
        """Read until the newest message of every topic in ``checks`` passes its check. One
        publication carries several topics in the hub's order (``dashboard`` before
        ``groups``), so waiting for one topic at a time would drop the other on the way."""
        newest: dict[str, dict] = {}
        with trio.fail_after(timeout):
            while not all(t in newest and ok(newest[t]) for t, ok in checks.items()):
                message = await self.receive(timeout)
                newest[message["topic"]] = message
        return newest

    async def closed(self, timeout: float = 30.0) -> ConnectionClosed:
        """Wait for the server to close the connection; returns the closing exception."""
        with trio.fail_after(timeout):
            while True:
                try:
                    await self.receive(timeout)
                except ConnectionClosed as exc:
                    return exc

    async def aclose(self) -> None:
        await trio.to_thread.run_sync(self.conn.close)
