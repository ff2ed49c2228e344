"""The loopback Binance emulator with receipt times, for the latency benchmarks.

``python -m ops.bench.timed_emulator`` serves ``tests.emulator`` unchanged, behind a thin ASGI
layer that notes ``time.monotonic_ns()`` when each request reaches the app: every order
placement (by ``newClientOrderId``) and every ``/_emulator/price`` move (the moment the fill
it causes is made and pushed). ``GET /_bench/times`` returns them. CLOCK_MONOTONIC is one
clock for every process of the machine, so a benchmark compares these times with its own
``time.monotonic_ns()`` directly; the emulator runs in its own process (its own GIL) like a
remote exchange. ``GET /_bench/tickers`` counts the frames written to market-stream
websockets (the price updates the engine was actually sent; a slow reader loses some, as on
Binance).

``--exchange-info FILE`` (default: ``$BENCH_EMULATOR_EXCHANGE_INFO``, else the emulator's own
file) serves another exchangeInfo; the environment variable reaches the emulator through
``daemon.TimedEmulator``, which starts this module with no options.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl

import trio

from tests.emulator.server import INFO_FILE, make_emulator, serve

INFO_ENV = "BENCH_EMULATOR_EXCHANGE_INFO"


class TimedApp:
    def __init__(self, inner):
        self.inner = inner
        self.orders: dict[str, int] = {}  # client order id -> first receipt (ns)
        self.prices: list[tuple[str, str, int]] = []  # (symbol, price, ns) of each price move
        self.tickers_sent = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/stream":
            async def counted(message) -> None:
                await send(message)
                if message["type"] == "websocket.send":
                    self.tickers_sent += 1

            await self.inner(scope, receive, counted)
            return
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        now = time.monotonic_ns()
        method, path = scope["method"], scope["path"]
        if path == "/_bench/times":
            await _answer(send, {"orders": self.orders, "prices": self.prices})
            return
        if path == "/_bench/tickers":
            await _answer(send, {"sent": self.tickers_sent})
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
    parser.add_argument("--exchange-info", type=Path,
                        default=Path(os.environ.get(INFO_ENV) or INFO_FILE))
    args = parser.parse_args()
    app = TimedApp(make_emulator(info_file=args.exchange_info))

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
