"""The loopback Binance emulator with receipt times, for the latency benchmarks.

``python -m ops.bench.timed_emulator`` serves ``tests.emulator`` unchanged, behind a thin ASGI
layer that notes ``time.monotonic_ns()`` when each request reaches the app: every order
placement (by ``newClientOrderId``) and every ``/_emulator/price`` move (the moment the fill
it causes is made and pushed). ``GET /_bench/times`` returns them. CLOCK_MONOTONIC is one
clock for every process of the machine, so a benchmark compares these times with its own
``time.monotonic_ns()`` directly; the emulator runs in its own process (its own GIL) like a
remote exchange.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from urllib.parse import parse_qsl

import trio

from tests.emulator.server import make_emulator, serve


class TimedApp:
    def __init__(self, inner):
        self.inner = inner
        self.orders: dict[str, int] = {}  # client order id -> first receipt (ns)
        self.prices: list[tuple[str, str, int]] = []  # (symbol, price, ns) of each price move

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        now = time.monotonic_ns()
        method, path = scope["method"], scope["path"]
        if path == "/_bench/times":
            await _answer(send, {"orders": self.orders, "prices": self.prices})
            return
        if path == "/_bench/clear":
            self.orders.clear()
            self.prices.clear()
            await _answer(send, {"ok": True})
            return
        if (method, path) not in (("POST", "/api/v3/order"), ("POST", "/_emulator/price")):
            await self.inner(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            msg = await receive()
            messages.append(msg)
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if path == "/api/v3/order":
            params = dict(parse_qsl(scope["query_string"].decode()))
            params.update(parse_qsl(body.decode()))
            self.orders.setdefault(params.get("newClientOrderId", ""), now)
        else:
            data = json.loads(body or b"{}")
            self.prices.append((data.get("symbol", ""), str(data.get("price", "")), now))

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.inner(scope, replay, send)


async def _answer(send, payload: object) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.timed_emulator")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = TimedApp(make_emulator())

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(partial(serve, app, port=args.port))
            print(f"Binance emulator on {url}", flush=True)

    try:
        trio.run(run)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
