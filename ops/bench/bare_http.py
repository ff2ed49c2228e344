"""The floor under the webhook benchmark: hypercorn on trio serving an ASGI app that reads the
body and answers a constant 200 — no Quart, no engine, no database.

``python -m ops.bench.bare_http --port N`` prints ``bare http on http://127.0.0.1:N`` once it
listens. ``bench_ack`` drives it with the same client and schedule as the engine, so the figures
show what this machine charges for one HTTP round trip through the engine's own server stack
before the engine does anything (ARCHITECTURE.md: the design fixes hypercorn).
"""

from __future__ import annotations

import argparse
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

ANSWER = b'{"status":"accepted","id":0}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:  # the whole body, as the webhook reads it
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


async def main(port: int) -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None  # as the engine's hypercorn_config
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, app, config)
        print(f"bare http on http://127.0.0.1:{port}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    trio.run(main, parser.parse_args().port)
