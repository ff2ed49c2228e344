"""The emulator's public market data: what Binance serves without an API key.

REST (``Emulator._route`` hands these paths here): ``GET /api/v3/ticker/24hr``,
``/api/v3/ticker/bookTicker`` (each with ``symbol``, ``symbols=["A","B"]`` or neither = all) and
``/api/v3/klines`` (``symbol``, ``interval`` 1m/5m/15m/1h, ``startTime``, ``endTime``, ``limit``).
Websocket ``/ws``: Binance's raw stream endpoint, driven by ``{"method": "SUBSCRIBE" |
"UNSUBSCRIBE" | "LIST_SUBSCRIPTIONS", "params": [...], "id": n}`` messages; streams
``<symbol>@bookTicker`` and ``<symbol>@ticker``.

Every ``set_price`` of the emulator (``/_emulator/price(s)``) becomes a last price, a best
bid/ask one tick either side of it (so the mid is the price itself), a 1-minute kline update
and one frame to every socket subscribed to the symbol.

Controls: ``POST /_emulator/public {"stall": true|false}`` — a stalled market sends no frames
and answers the public REST paths 503 (a black-holed exchange); ``POST /_emulator/klines
{"symbol", "bars": [[t_ms, o, h, l, c], ...]}`` seeds history; ``GET /_emulator/public``
reports the subscribed streams, the open sockets, the frames sent and the public requests served.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import trio

from tests.emulator.account import Account, BinanceError, s8

PATHS = ("/api/v3/ticker/24hr", "/api/v3/ticker/bookTicker", "/api/v3/klines")
INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}
FRAME_BACKLOG = 5_000


class PublicMarket:
    def __init__(self, account: Account, clock_ms):
        self.clock_ms = clock_ms
        self.sockets: dict[int, tuple[set[str], trio.MemorySendChannel]] = {}
        self._seq = 0
        self.reset(account)

    def reset(self, account: Account) -> None:
        self.account = account
        self.books: dict[str, tuple[Decimal, Decimal]] = {}
        self.bars: dict[str, dict[int, list[Decimal]]] = {}  # symbol -> minute -> o, h, l, c
        self.stalled = False
        self.served: Counter[str] = Counter()
        self.frames_sent = 0  # frames written to /ws sockets (what subscribers were sent)
        self._update_id = 0

    # -- prices ---------------------------------------------------------------------------
    def on_price(self, symbol: str, price: Decimal, now_ms: int) -> None:
        tick = self.account.book.markets[symbol].tick_size
        bid, ask = (price - tick, price + tick) if price > tick else (price, price)
        self.books[symbol] = (bid, ask)
        minute = now_ms - now_ms % 60_000
        bar = self.bars.setdefault(symbol, {}).get(minute)
        if bar is None:
            self.bars[symbol][minute] = [price, price, price, price]
        else:
            bar[1], bar[2], bar[3] = max(bar[1], price), min(bar[2], price), price
        if self.stalled:
            return
        self._update_id += 1
        low = symbol.lower()
        frames = {
            f"{low}@bookticker": {"u": self._update_id, "s": symbol, "b": s8(bid), "B": "10.0",
                                  "a": s8(ask), "A": "10.0"},
            f"{low}@ticker": {"e": "24hrTicker", "E": now_ms, "s": symbol, "c": s8(price),
                              "b": s8(bid), "a": s8(ask)},
        }
        for streams, chan in list(self.sockets.values()):
            for name, frame in frames.items():
                if name in streams:
                    try:
                        chan.send_nowait(frame)
                    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                        pass  # a slow reader loses frames, as on Binance

    def seed_klines(self, symbol: str, bars: list[list[Any]]) -> None:
        self.account.book.markets[symbol]  # KeyError: unknown symbol
        for t, o, h, low, c in bars:
            minute = int(t) - int(t) % 60_000
            self.bars.setdefault(symbol, {})[minute] = [Decimal(str(v)) for v in (o, h, low, c)]

    # -- REST -----------------------------------------------------------------------------
    def route(self, method: str, path: str, p: dict[str, str], now_ms: int) -> object:
        if method != "GET" or path not in PATHS:
            return None
        self.served[path] += 1
        if self.stalled:
            raise BinanceError(-1001, "Internal error; unable to process your request.", 503)
        if path == "/api/v3/klines":
            return self._klines(p)
        rows = [self._ticker(s, path, now_ms) for s in self._symbols(p)]
        return rows[0] if "symbol" in p else rows

    def _symbols(self, p: dict[str, str]) -> list[str]:
        prices = self.account.book.prices
        if "symbol" in p:
            wanted = [p["symbol"]]
        elif "symbols" in p:
            wanted = json.loads(p["symbols"])
        else:
            return sorted(prices)
        for symbol in wanted:
            if symbol not in self.account.book.markets:
                raise BinanceError(-1121, "Invalid symbol.")
        return [s for s in wanted if s in prices]

    def _ticker(self, symbol: str, path: str, now_ms: int) -> dict:
        price = self.account.book.prices[symbol]
        bid, ask = self.books.get(symbol, (price, price))
        if path.endswith("bookTicker"):
            return {"symbol": symbol, "bidPrice": s8(bid), "bidQty": "10.00000000",
                    "askPrice": s8(ask), "askQty": "10.00000000"}
        return {"symbol": symbol, "lastPrice": s8(price), "bidPrice": s8(bid),
                "askPrice": s8(ask), "openPrice": s8(price), "highPrice": s8(price),
                "lowPrice": s8(price), "volume": "0.00000000", "quoteVolume": "0.00000000",
                "openTime": now_ms - 86_400_000, "closeTime": now_ms, "count": 0}

    def _klines(self, p: dict[str, str]) -> list[list]:
        symbol = p.get("symbol", "")
        if symbol not in self.account.book.markets:
            raise BinanceError(-1121, "Invalid symbol.")
        step = INTERVAL_MS.get(p.get("interval", ""))
        if step is None:
            raise BinanceError(-1120, "Invalid interval.")
        start = int(p.get("startTime", 0))
        end = int(p.get("endTime", 2**62))
        limit = min(int(p.get("limit", 500)), 1000)
        merged: dict[int, list[Decimal]] = {}
        for minute, (o, h, low, c) in sorted(self.bars.get(symbol, {}).items()):
            t = minute - minute % step
            if not start <= t <= end:
                continue
            bar = merged.get(t)
            merged[t] = [o, h, low, c] if bar is None else \
                [bar[0], max(bar[1], h), min(bar[2], low), c]
        return [[t, s8(o), s8(h), s8(low), s8(c), "0.00000000", t + step - 1, "0.00000000", 0,
                 "0.00000000", "0.00000000", "0"]
                for t, (o, h, low, c) in sorted(merged.items())[:limit]]

    # -- controls -------------------------------------------------------------------------
    def control(self, method: str, path: str, data: dict) -> tuple[int, object, dict] | None:
        if (method, path) == ("POST", "/_emulator/public"):
            self.stalled = bool(data.get("stall", False))
            return 200, {"ok": True, "stalled": self.stalled}, {}
        if (method, path) == ("GET", "/_emulator/public"):
            streams = sorted({s for names, _ in self.sockets.values() for s in names})
            return 200, {"streams": streams, "sockets": len(self.sockets),
                         "served": dict(self.served), "stalled": self.stalled,
                         "frames_sent": self.frames_sent}, {}
        if (method, path) == ("POST", "/_emulator/klines"):
            try:
                self.seed_klines(data["symbol"], data["bars"])
            except KeyError as exc:
                return 400, {"error": f"unknown symbol or missing field: {exc}"}, {}
            return 200, {"ok": True}, {}
        return None

    # -- websocket ------------------------------------------------------------------------
    async def serve_ws(self, receive, send, drop: trio.Event) -> None:
        """``/ws``: the socket is accepted; streams come and go with method messages;
        ``drop`` (the ``drop_ws`` fault) cuts it as a network failure would."""
        await send({"type": "websocket.accept"})
        self._seq += 1
        seq = self._seq
        streams: set[str] = set()
        frames_send, frames = trio.open_memory_channel[dict](FRAME_BACKLOG)
        self.sockets[seq] = (streams, frames_send)
        try:
            async with trio.open_nursery() as nursery:
                async def pump() -> None:
                    async for frame in frames:
                        await send({"type": "websocket.send", "text": json.dumps(frame)})
                        self.frames_sent += 1

                async def read() -> None:
                    while True:
                        msg = await receive()
                        if msg["type"] == "websocket.disconnect":
                            break
                        answer = self._method(streams, msg.get("text") or "")
                        frames_send.send_nowait(answer)
                    nursery.cancel_scope.cancel()

                async def watch_drop() -> None:
                    await drop.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(pump)
                nursery.start_soon(read)
                nursery.start_soon(watch_drop)
        finally:
            self.sockets.pop(seq, None)
        if drop.is_set():
            await send({"type": "websocket.close", "code": 1011})

    def _method(self, streams: set[str], text: str) -> dict:
        try:
            msg = json.loads(text)
            names = [str(n).lower() for n in msg.get("params") or []]
            ident = msg.get("id")
        except (ValueError, AttributeError):
            return {"code": 2, "msg": "Invalid JSON"}
        match msg.get("method"):
            case "SUBSCRIBE":
                streams.update(names)
                return {"result": None, "id": ident}
            case "UNSUBSCRIBE":
                streams.difference_update(names)
                return {"result": None, "id": ident}
            case "LIST_SUBSCRIPTIONS":
                return {"result": sorted(streams), "id": ident}
        return {"code": 1, "msg": f"Unknown method {msg.get('method')!r}", "id": ident}
