"""The paper exchange's live prices (``exchange.paper.feed = "live"``): a real exchange's public
market data, no API key.

Owns: the set of symbols to follow — ``want()``'s (open groups and queue entries, from the
supervisor) plus those of resting paper orders, re-read every ``RESTING_EVERY_S`` — the
subscriptions on the current socket, the time of the last price per symbol, the connection
state and the stale set.
Receives: ``want(symbols)``; Binance ``<symbol>@bookTicker`` / ``@ticker`` frames on its raw
``/ws`` socket (``actors/exchange/ws.py``), subscribed and unsubscribed with SUBSCRIBE /
UNSUBSCRIBE messages as the set changes; REST prices (``PublicClient.prices``) — the
catch-up after every (re)connect and for each newly subscribed symbol, polling while the
socket is down, and on every other exchange polling every ``poll_sec``; a symbol quiet for
half the stale limit (an illiquid market sends nothing) is asked over REST.
Sends: ``apply_price`` to the paper exchange (its matching, fills and price events are the
paper exchange's own); ``price_source`` answers for a symbol the paper exchange has no price
for yet; at start, it has the paper exchange forget prices older than the stale limit (those
restored from the database); a warning ``price_feed_stale`` (a pinned alert) when symbols go without any price
for longer than ``stale_sec``, ``price_feed_recovered`` when every one has a price again.
Fails how: a lost socket is reopened after a back-off (0.5 s doubling to 30 s) with REST
polling meanwhile; REST failures are logged and retried at the next poll; a price the paper
exchange refuses (a symbol its markets file lacks) is logged once per symbol and dropped.
Nothing here raises into the engine but a bug.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import msgspec
import trio

from actors.exchange.port import ExchangeError, UnknownSymbol
from actors.exchange.public_client import WS_BASE, PublicClient
from actors.exchange.ws import WebSocket, WebSocketClosed, open_websocket
from engine.decimals import plain
from engine.errors import InvalidInput

log = logging.getLogger("engine.system")

BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 30.0
RESUBSCRIBE_S = 0.5  # Binance accepts 5 control messages a second per connection
STREAMS_PER_MESSAGE = 200
WATCH_S = 1.0
PRICE_FLUSH_S = 30.0
RESTING_EVERY_S = 2.0


class _Frame(msgspec.Struct):
    s: str | None = None  # symbol (bookTicker and ticker frames)
    b: str | None = None  # best bid
    a: str | None = None  # best ask
    c: str | None = None  # last price (ticker)
    id: int | None = None  # the answer to one of our SUBSCRIBE / UNSUBSCRIBE messages
    code: int | None = None
    msg: str | None = None


_decode = msgspec.json.Decoder(_Frame).decode


class LiveFeed:
    def __init__(self, *, client: PublicClient, paper: Any, cfg: Any, ws_base: str = "",
                 clock_ms: Callable[[], int], socket: bool | None = None):
        self.client = client
        self.exchange = client.name
        # Binance's public socket; elsewhere (or socket=False) REST polling every poll_sec
        self._socket = self.exchange == "binance" if socket is None else socket
        self._paper = paper
        self._stream = cfg.stream
        self._poll_s = float(cfg.poll_sec)
        self.stale_after_ms = cfg.stale_sec * 1000
        self._ws_url = f"{(ws_base or WS_BASE.get(self.exchange, '')).rstrip('/')}/ws"
        self._clock_ms = clock_ms
        self.state = "starting"
        self.last_error: str | None = None
        self.last_ms: dict[str, int] = {}  # symbol -> wall time of its last price
        self.pushed = 0
        self.updates: dict[str, int] = {}  # prices pushed per symbol
        self.pushed_since_connect = 0  # frames on the current socket (back-off reset)
        self.connects = 0
        self._warned_for = -1  # the connection count the last "stream down" warning was for
        self._rest_failing = False
        self._wanted: set[str] = set()
        self._resting: set[str] = set()
        self._since: dict[str, int] = {}  # followed since (the stale clock of a silent symbol)
        self.subscribed: set[str] = set()  # confirmed by the exchange on the current socket
        self._on_socket: set[str] = set()  # asked for on the current socket
        self._behind: set[str] = set()  # subscribed, REST catch-up not done yet
        self._catch_up_at = 0.0
        self._pending: dict[int, tuple[str, set[str]]] = {}
        self._ids = itertools.count(1)
        self.stale: set[str] = set()
        self._refused: set[str] = set()
        self._quiet_retry_ms = 0

    # -- the followed set -------------------------------------------------------------------
    def want(self, symbols: Iterable[str]) -> None:
        self._wanted = set(symbols)
        self._track()

    def symbols(self) -> set[str]:
        markets = self._paper.markets
        return {s for s in self._wanted | self._resting if s in markets}

    def _track(self) -> None:
        now, followed = self._clock_ms(), self.symbols()
        for symbol in followed:
            self._since.setdefault(symbol, now)
        for symbol in [s for s in self._since if s not in followed]:
            del self._since[symbol]
            self.stale.discard(symbol)

    # -- running ----------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        self._paper.price_source = self.fetch_missing
        # a price alone is written to the database at most every PRICE_FLUSH_S: each write is
        # a durable commit on the event loop, and a live price is asked again after a restart
        self._paper.price_flush_s = PRICE_FLUSH_S
        # prices restored from the database are no market price: never offered as fresh
        self._paper.forget_prices(self._clock_ms() - self.stale_after_ms)
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch)
                if self._socket:
                    await self._binance()
                else:
                    self.state = "polling"
                    while True:
                        await self._snapshot(sorted(self.symbols()))
                        await trio.sleep(self._poll_s)
        finally:
            self._paper.price_source = None
            with trio.CancelScope(shield=True):
                await self.client.aclose()

    async def fetch_missing(self, symbols: list[str]) -> dict[str, Decimal]:
        """The paper exchange's ``price_source``: REST prices for symbols it has none for."""
        try:
            return await self.client.prices(symbols, kind=self._stream)
        except ExchangeError as exc:
            log.warning(f"live price of {', '.join(symbols)} unavailable: {exc}", extra={
                "event": "live_price_unavailable", "data": {"symbols": symbols}})
            return {}

    async def _binance(self) -> None:
        delay = BACKOFF_FIRST_S
        while True:
            self.state, problem = "connecting", "closed"
            try:
                ws = await open_websocket(self._ws_url)
                try:
                    self.state, self.last_error = "connected", None
                    self.connects += 1
                    await self._serve(ws)
                finally:
                    await ws.aclose()
            except (WebSocketClosed, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if self.pushed_since_connect:
                delay = BACKOFF_FIRST_S  # it worked for a while: start the back-off afresh
            self.subscribed, self._on_socket, self._pending = set(), set(), {}
            self._behind, self._catch_up_at = set(), 0.0
            self.state, self.last_error = "reconnecting", problem
            # one warning (a pinned alert) per outage; the retries of the same outage are info
            level = logging.WARNING if self._warned_for != self.connects else logging.INFO
            self._warned_for = self.connects
            log.log(level, f"live price stream down ({problem}); reconnecting in {delay:.1f} s",
                    extra={"event": "live_stream_down", "exchange": self.exchange,
                           "data": {"error": problem, "retry_s": delay}})
            with trio.move_on_after(delay):  # REST polling meanwhile
                while True:
                    await self._snapshot(sorted(self.symbols()))
                    await trio.sleep(self._poll_s)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _serve(self, ws: WebSocket) -> None:
        self.pushed_since_connect = 0
        while True:
            await self._sync(ws)
            # frames are handled without an await: only the socket read is a checkpoint (it
            # yields once per network read, many frames each), and only it can be cancelled
            with trio.move_on_after(RESUBSCRIBE_S):
                while True:
                    self._frame(await ws.receive())

    async def _sync(self, ws: WebSocket) -> None:
        """Subscribe what is newly followed (then its REST price), unsubscribe the rest."""
        want = self.symbols()
        add, drop = want - self._on_socket, self._on_socket - want
        for method, symbols in (("UNSUBSCRIBE", drop), ("SUBSCRIBE", add)):
            ordered = sorted(symbols)
            for i in range(0, len(ordered), STREAMS_PER_MESSAGE):
                if i:
                    await trio.sleep(RESUBSCRIBE_S / 2)
                chunk = ordered[i:i + STREAMS_PER_MESSAGE]
                ident = next(self._ids)
                self._pending[ident] = (method, set(chunk))
                await ws.send(msgspec.json.encode({
                    "method": method, "params": [f"{s.lower()}@{self._stream}" for s in chunk],
                    "id": ident}).decode())
        self._on_socket = want
        self.subscribed &= want
        self._behind = (self._behind | add) & want
        if self._behind:  # frames only come with the next change: ask for the price now
            await self._catch_up()

    async def _catch_up(self) -> None:
        """REST prices of the newly subscribed symbols; failed, it is retried at the next
        subscription check after ``poll_sec``."""
        if trio.current_time() < self._catch_up_at:
            return
        if await self._snapshot(sorted(self._behind)):
            self._behind = set()
        else:
            self._catch_up_at = trio.current_time() + self._poll_s

    def _frame(self, text: str) -> None:
        try:
            f = _decode(text)
            if f.b is not None and f.a is not None:
                price = (Decimal(f.b) + Decimal(f.a)) / 2
            else:
                price = None if f.c is None else Decimal(f.c)
        except (msgspec.DecodeError, ArithmeticError):
            log.warning("live price stream sent an unreadable frame",
                        extra={"event": "live_frame_unreadable", "data": {"frame": text[:200]}})
            return
        if f.s is not None:
            if price is None or not price.is_finite():
                return
            self._push(f.s, plain(price))
            self.pushed_since_connect += 1
        elif f.id is not None:
            method, symbols = self._pending.pop(f.id, ("", set()))
            if f.code is not None:
                self.last_error = f"{method} refused: {f.code} {f.msg}"
                log.warning(f"live price stream refused {method}: {f.code} {f.msg}", extra={
                    "event": "live_subscribe_refused", "exchange": self.exchange})
            elif method == "SUBSCRIBE":
                self.subscribed |= symbols & self._on_socket
            else:
                self.subscribed -= symbols

    def _push(self, symbol: str, price: Decimal) -> None:
        try:
            self._paper.apply_price(symbol, price)
        except (UnknownSymbol, InvalidInput) as exc:
            if symbol not in self._refused:
                self._refused.add(symbol)
                log.warning(f"live price of {symbol} refused by the paper exchange: {exc}",
                            extra={"event": "live_price_refused", "symbol": symbol})
            return
        self.last_ms[symbol] = self._clock_ms()
        self.pushed += 1
        self.updates[symbol] = self.updates.get(symbol, 0) + 1

    async def _snapshot(self, symbols: list[str]) -> bool:
        """Push the REST prices of ``symbols``; False when the request failed (logged)."""
        if not symbols:
            return True
        try:
            prices = await self.client.prices(symbols, kind=self._stream)
        except ExchangeError as exc:
            self.last_error = f"REST prices: {exc}"
            log.log(logging.INFO if self._rest_failing else logging.WARNING,
                    f"live prices over REST failed: {exc}", extra={
                        "event": "live_rest_failed", "exchange": self.exchange,
                        "data": {"symbols": len(symbols)}})
            self._rest_failing = True
            return False
        if self._rest_failing:
            self._rest_failing = False
            log.info("live prices over REST answer again", extra={
                "event": "live_rest_recovered", "exchange": self.exchange})
        for symbol, price in sorted(prices.items()):
            self._push(symbol, price)
        return True

    # -- staleness --------------------------------------------------------------------------
    def age_ms(self, symbol: str, now: int) -> int | None:
        last = self.last_ms.get(symbol, self._since.get(symbol))
        return None if last is None else now - last

    async def _watch(self) -> None:
        resting_at = 0.0
        while True:
            if trio.current_time() >= resting_at:
                self._resting = {o.symbol for o in self._paper.book.open_orders()}
                self._track()
                resting_at = trio.current_time() + RESTING_EVERY_S
            now = self._clock_ms()
            ages = {s: self.age_ms(s, now) or 0 for s in self.symbols()}
            quiet = sorted(s for s, age in ages.items() if age >= self.stale_after_ms // 2)
            if quiet and now >= self._quiet_retry_ms:
                self._quiet_retry_ms = now + int(self._poll_s * 1000)
                await self._snapshot(quiet)
                now = self._clock_ms()
                ages = {s: self.age_ms(s, now) or 0 for s in ages}
            self._report({s for s, age in ages.items() if age > self.stale_after_ms}, ages)
            await trio.sleep(WATCH_S)

    def _report(self, stale: set[str], ages: dict[str, int]) -> None:
        new = sorted(stale - self.stale)
        if new:
            names = ", ".join(new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
            log.warning(f"live prices stale: no price for over {self.stale_after_ms // 1000} s "
                        f"for {names} ({self.exchange}, {self.state})", extra={
                            "event": "price_feed_stale", "exchange": self.exchange,
                            "symbol": new[0] if len(new) == 1 else None,
                            "data": {"symbols": new, "state": self.state,
                                     "age_ms": {s: ages[s] for s in new[:50]}}})
        if self.stale and not stale:
            log.info("live prices flowing again for every followed symbol", extra={
                "event": "price_feed_recovered", "exchange": self.exchange})
        self.stale = stale

    def status(self) -> dict[str, Any]:
        now = self._clock_ms()
        prices = self._paper.book.prices
        return {
            "feed": "live", "exchange": self.exchange, "stream": self._stream,
            "state": self.state, "last_error": self.last_error,
            "stale_after_ms": self.stale_after_ms, "stale": sorted(self.stale),
            "symbols": {s: {"price": None if s not in prices else format(prices[s], "f"),
                            "age_ms": self.age_ms(s, now), "subscribed": s in self.subscribed,
                            "stale": s in self.stale} for s in sorted(self.symbols())},
        }
