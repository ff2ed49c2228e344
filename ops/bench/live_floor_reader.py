"""The latency floor of ``bench_paper_live``: a bare reader of the emulator's public socket.

``python -m ops.bench.live_floor_reader WS_URL SECONDS SYMBOL...`` subscribes to the symbols'
``bookTicker`` streams with the engine's own websocket client (``actors/exchange/ws.py``) and,
for SECONDS, notes ``time.monotonic_ns()`` at the receipt of every frame whose mid is one of
the benchmark's probe prices; then prints ``{"probes": [[symbol, price, ns], ...], "frames":
n}`` as JSON. Its own
process: it shares the machine, not the engine's event loop.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal

import trio

from actors.exchange.ws import open_websocket

PROBES = {Decimal("99.95"), Decimal("99.45")}


async def read(url: str, seconds: float, symbols: list[str]) -> dict:
    seen: list[list] = []
    frames = 0
    ws = await open_websocket(f"{url}/ws")
    try:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 1,
                                  "params": [f"{s.lower()}@bookTicker" for s in symbols]}))
        with trio.move_on_after(seconds):
            while True:
                frame = json.loads(await ws.receive())
                frames += 1
                if "b" in frame:
                    mid = (Decimal(frame["b"]) + Decimal(frame["a"])) / 2
                    if mid in PROBES:
                        seen.append([frame["s"], str(mid.normalize()), time.monotonic_ns()])
    finally:
        await ws.aclose()
    return {"probes": seen, "frames": frames}


if __name__ == "__main__":
    url, seconds, *names = sys.argv[1:]
    print(json.dumps(trio.run(read, url, float(seconds), names)), flush=True)
