"""The exchange-stream actor: pushes from the exchange into the gateway and market data.

Owns: the set of symbols the engine watches (those with groups or queue entries) and the one
running ``port.stream(symbols)`` subscription.
Receives: ``set_symbols(symbols)`` from the supervisor (a changed set restarts the
subscription); the port's stream events. A restart leaves a gap between the old subscription
and the new one, so once the new one exists a REST catch-up (open orders, trades since the
restart began minus a margin; ``streams.catch_up``) is delivered first; the gateway drops what it
already passed on (trade ids, ended orders).
Sends: ``OrderUpdate`` -> ``gateway.on_update`` (awaited: it records before it delivers),
``PriceUpdate`` -> ``market.on_price`` (and, with ``exchange.paper.clock = "feed"``, the feed
timestamp to the engine clock first). Each event is handled shielded from the restart's
cancellation, so an update is never half-delivered (a price is handed on without an await:
nothing can cut it short, so it needs no shield).
Fails how: the port reconnects by itself (the ccxt adapter falls back to REST polling while its
websocket is down); should the stream still raise an ``ExchangeError`` or end, it is logged,
reported to the health tracker and reopened after a back-off (1 s doubling to 30 s). Any other
exception (a bug, a storage failure in the gateway) propagates and stops the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import aclosing

import trio

from actors.exchange.port import ExchangeError, ExchangePort, OrderUpdate, PriceUpdate
from actors.exchange.streams import Tracker, catch_up
from actors.market.health import ExchangeHealth

log = logging.getLogger("engine.system")

RESTART_DEBOUNCE_S = 0.2  # a burst of new groups restarts the subscription once
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
GAP_MARGIN_MS = 5_000  # clock skew between us and the exchange's trade stamps


class StreamActor:
    def __init__(self, *, port: ExchangePort, on_order: Callable[[OrderUpdate], Awaitable[None]],
                 on_price: Callable[[PriceUpdate], None], clock_ms: Callable[[], int],
                 health: ExchangeHealth | None = None,
                 on_feed_time: Callable[[int], None] | None = None):
        self._port = port
        self._on_order = on_order
        self._on_price = on_price
        self._health = health
        self._on_feed_time = on_feed_time
        self._clock_ms = clock_ms  # the exchange's time base: engine clock (paper) or wall
        self._gap_since: int | None = None  # a restart began then: catch up from there
        self._symbols: frozenset[str] = frozenset()
        self._scope: trio.CancelScope | None = None
        self.restarts = 0
        self.events = 0
        self.subscribed: tuple[str, ...] | None = None  # what the running subscription covers

    def set_symbols(self, symbols: Iterable[str]) -> None:
        new = frozenset(symbols)
        if new == self._symbols:
            return
        self._symbols = new
        if self._scope is not None:
            if self._gap_since is None:
                self._gap_since = self._clock_ms() - GAP_MARGIN_MS
            self._scope.cancel()

    @property
    def symbols(self) -> frozenset[str]:
        return self._symbols

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        failures = 0
        while True:
            symbols = tuple(sorted(self._symbols))
            with trio.CancelScope() as scope:
                self._scope = scope
                delivered = self.events
                try:
                    await self._consume(symbols)
                    problem = "stream ended"
                except ExchangeError as e:
                    problem = f"{type(e).__name__}: {e}"
                    if self._health is not None:
                        self._health.failure(e)  # AuthFailed: "Invalid API credentials"
            self._scope = None
            if scope.cancelled_caught:  # the symbol set changed: resubscribe
                self.restarts += 1
                failures = 0
                await trio.sleep(RESTART_DEBOUNCE_S)
                continue
            if self.events > delivered:  # it worked for a while: start the back-off afresh
                failures = 0
            delay = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            failures += 1
            log.warning("exchange stream interrupted (%s), reopening", problem, extra={
                "event": "stream_interrupted", "exchange": self._port.name,
                "data": {"error": problem, "retry_in_s": delay}})
            if self._health is not None:
                self._health.stream_state(False, problem)
            await trio.sleep(delay)

    async def _consume(self, symbols: tuple[str, ...]) -> None:
        self.subscribed = symbols
        async with aclosing(self._port.stream(list(symbols))) as events:
            if self._gap_since is not None and symbols:
                await self._catch_up(symbols, self._gap_since)
            self._gap_since = None
            async for event in events:
                if isinstance(event, PriceUpdate):  # no await in between: nothing to shield
                    self._seen()
                    self._price(event)
                    continue
                with trio.CancelScope(shield=True):
                    await self._dispatch(event)

    async def _catch_up(self, symbols: tuple[str, ...], since_ms: int) -> None:
        """What happened while no subscription was open (a fill during the restart)."""
        try:
            updates = await catch_up(self._port, Tracker(list(symbols), since_ms), list(symbols))
        except ExchangeError as e:  # the reconciler's periodic pass still finds it
            log.warning("stream restart catch-up failed", extra={
                "event": "stream_catch_up_failed", "exchange": self._port.name,
                "data": {"error": str(e)}})
            return
        for update in updates:
            with trio.CancelScope(shield=True):
                await self._dispatch(update)

    async def _dispatch(self, event: object) -> None:
        self._seen()
        match event:
            case PriceUpdate():
                self._price(event)
            case OrderUpdate():
                await self._on_order(event)
            case _:
                raise TypeError(f"unexpected stream event {event!r}")

    def _seen(self) -> None:
        self.events += 1
        if self._health is not None:
            self._health.success()  # an event is an answer from the exchange
            if not self._health.stream_up:
                self._health.stream_state(True)

    def _price(self, event: PriceUpdate) -> None:
        if self._on_feed_time is not None:
            self._on_feed_time(event.ts_ms)
        self._on_price(event)
