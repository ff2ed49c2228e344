"""Push subscriptions of the paper exchange: one buffer per ``stream()`` caller.

Owns: each subscriber's pending events.
Receives: ``offer_order`` / ``offer_price`` from the exchange (synchronous, never blocking).
Sends: the events to the subscriber through ``async for``.
Fails how: a subscriber that falls more than ``limit`` events behind is cut off: it first gets
everything already buffered, then ``Unavailable`` (resubscribe: the new subscription starts
with a catch-up of open orders and prices, and ``fetch_my_trades`` recovers any missed fill).

Why not a bounded trio channel: ``send_nowait`` on a full channel would have to drop an
order update or block the exchange, and both are wrong. Here order updates are never dropped
silently (the cut-off is announced in-band, after the buffered ones) and prices are
coalesced: a subscriber that has not read a symbol's price yet only gets the newest one, placed
after every order update queued before it arrived (never earlier than an older order event).
"""

from collections import deque
from collections.abc import Callable, Iterable

import trio

from actors.exchange.port import OrderUpdate, PriceUpdate, StreamEvent, Unavailable


class PaperSubscription:
    """An ``AsyncIterator[StreamEvent]``: order updates of every symbol (like a user-data
    stream) and prices of ``symbols`` (all symbols when ``symbols`` is empty)."""

    def __init__(self, symbols: Iterable[str], *, limit: int,
                 on_close: Callable[["PaperSubscription"], None]):
        self.symbols = frozenset(symbols)
        self.limit = limit
        self.overflowed = False
        self.closed = False
        self._on_close = on_close
        # OrderUpdate entries, or (symbol, version) slots standing for that symbol's price
        self._events: deque[OrderUpdate | tuple[str, int]] = deque()
        self._prices: dict[str, tuple[int, PriceUpdate]] = {}  # newest price, its slot version
        self._slot_after: dict[str, int] = {}  # live slot -> order updates queued before it
        self._orders_queued = 0
        self._versions = 0
        self._wakeup = trio.Event()

    def offer_order(self, update: OrderUpdate) -> bool:
        """Queue an order update; False when this subscriber is (now) cut off."""
        if self.closed or self.overflowed:
            return False
        if len(self._events) >= self.limit:
            self.overflowed = True
            self._wakeup.set()
            return False
        self._events.append(update)
        self._orders_queued += 1
        self._wakeup.set()
        return True

    def offer_price(self, update: PriceUpdate) -> None:
        if self.closed or self.overflowed or (self.symbols and update.symbol not in self.symbols):
            return
        symbol = update.symbol
        if self._slot_after.get(symbol) == self._orders_queued:
            # its pending slot has no order update behind it: just refresh the value there
            self._prices[symbol] = (self._prices[symbol][0], update)
        else:
            # a new slot after the order updates already queued, so a price is never seen
            # before an order event older than it; the previous slot (if any) turns stale
            self._versions += 1
            self._events.append((symbol, self._versions))
            self._prices[symbol] = (self._versions, update)
            self._slot_after[symbol] = self._orders_queued
        self._wakeup.set()

    def close(self) -> None:
        """End the iteration once the buffered events are consumed."""
        self.closed = True
        self._wakeup.set()

    def __aiter__(self) -> "PaperSubscription":
        return self

    async def __anext__(self) -> StreamEvent:
        await trio.lowlevel.checkpoint()
        while True:
            while not self._events:
                if self.overflowed:
                    self._on_close(self)
                    raise Unavailable("paper stream: subscriber fell too far behind; resubscribe")
                if self.closed:
                    self._on_close(self)
                    raise StopAsyncIteration
                # no await between the emptiness check and the wait: no wake-up is missed
                self._wakeup = trio.Event()
                await self._wakeup.wait()
            item = self._events.popleft()
            if not isinstance(item, tuple):
                return item
            symbol, version = item
            newest = self._prices.get(symbol)
            if newest is not None and newest[0] == version:
                del self._prices[symbol]
                del self._slot_after[symbol]
                return newest[1]

    async def aclose(self) -> None:
        self.closed = True
        self._events.clear()
        self._on_close(self)
        await trio.lowlevel.checkpoint()
