"""Order and price streams of the ccxt adapter: the iterator, the REST catch-up and polling.

Owns: per stream, the trade ids already delivered (fills are de-duplicated here), the last
delivered state of each order, and the time of the newest trade seen per symbol.
Receives: websocket events (``binance_stream.py``) and REST answers (catch-up, polling).
Sends: ``OrderUpdate``/``PriceUpdate`` to the consumer iterating ``CcxtExchange.stream``.
Fails how: connection losses are absorbed (reconnect with back-off, REST polling meanwhile);
``AuthFailed`` and programming errors end the iteration by raising in the consumer.

The machinery runs in a trio *system task* with its own nursery and hands events over a memory
channel: an async generator must not yield from inside a nursery, and the port promises a
plain async iterator. The iterator's ``aclose`` (or the exchange's) cancels the task.
"""

import logging
from collections import OrderedDict
from decimal import Decimal
from functools import partial
from typing import Any, Awaitable, Callable

import trio

from actors.exchange.port import (
    AuthFailed,
    ExchangeError,
    OrderNotFound,
    OrderState,
    OrderUpdate,
    PriceUpdate,
    StreamEvent,
    Trade,
)

log = logging.getLogger("engine.system")
SEEN_TRADES_KEPT = 50_000
_FINAL = ("filled", "canceled", "expired", "rejected")


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


class EventStream:
    """``AsyncIterator[StreamEvent]`` fed by a background system task running ``body``."""

    def __init__(self, body: Callable[[trio.MemorySendChannel], Awaitable[None]]):
        self._body = body
        self._send, self._recv = trio.open_memory_channel[Any](1000)
        self._scope = trio.CancelScope()
        self._started = False

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> StreamEvent:
        if not self._started:
            self._started = True
            trio.lowlevel.spawn_system_task(self._run)
        try:
            item = await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None
        if isinstance(item, _Raised):
            raise item.exc
        return item

    async def _run(self) -> None:
        async with self._send:
            with self._scope:
                try:
                    await self._body(self._send)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass  # the consumer went away
                except BaseException as exc:  # noqa: BLE001 - forwarded to the consumer
                    if self._scope.cancel_called:
                        raise
                    leaf: BaseException = exc
                    while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
                        leaf = leaf.exceptions[0]
                    with trio.move_on_after(1):
                        await self._send.send(_Raised(leaf))

    async def aclose(self) -> None:
        self._scope.cancel()
        await self._recv.aclose()


class Tracker:
    """What this stream already delivered: trade ids, order states, newest trade time."""

    def __init__(self, symbols: list[str], since_ms: int):
        self.since = {s: since_ms for s in symbols}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._states: dict[str, tuple[str, Decimal]] = {}  # cid -> (status, filled)
        self.open: dict[str, str] = {}  # cid -> symbol of orders we know to be open

    def new_trade(self, trade: Trade) -> bool:
        if trade.trade_id in self._seen:
            return False
        self._seen[trade.trade_id] = None
        if len(self._seen) > SEEN_TRADES_KEPT:
            self._seen.popitem(last=False)
        if trade.symbol in self.since:
            self.since[trade.symbol] = max(self.since[trade.symbol], trade.ts_ms)
        return True

    def changed(self, order: OrderState) -> bool:
        """True for a state newer than the last delivered one. States only move forward: a
        smaller filled quantity, or anything after a final status, is an older view."""
        key = (order.status, order.filled_quantity)
        prev = self._states.get(order.client_order_id)
        if prev is not None and (prev == key or prev[0] in _FINAL
                                 or order.filled_quantity < prev[1]):
            return False
        self._states[order.client_order_id] = key
        if order.status in ("open", "partially_filled"):
            self.open[order.client_order_id] = order.symbol
        else:
            self.open.pop(order.client_order_id, None)
        return True

    def accept(self, update: OrderUpdate) -> OrderUpdate | None:
        """What of ``update`` is new: the update itself, its order state without an already
        delivered fill, or None."""
        fresh_trade = update.trade is not None and self.new_trade(update.trade)
        fresh_state = self.changed(update.order)
        if fresh_trade:
            return update
        if fresh_state:
            return OrderUpdate(order=update.order) if update.trade is not None else update
        return None


async def catch_up(exchange: Any, tracker: Tracker, symbols: list[str]) -> list[OrderUpdate]:
    """REST view of what may have been missed: open orders, trades since the newest seen,
    and the final state of orders that were open and no longer are."""
    out: list[OrderUpdate] = []
    for symbol in symbols:
        # trades first: order states read afterwards already include every one of them
        trades = await exchange.fetch_my_trades(symbol, since_ms=tracker.since[symbol])
        opens = {o.client_order_id: o for o in await exchange.fetch_open_orders(symbol)}
        states: dict[str, OrderState] = dict(opens)
        for trade in trades:
            order = states.get(trade.client_order_id)
            if order is None and trade.client_order_id:
                order = await exchange.fetch_order(symbol, trade.client_order_id)
                states[trade.client_order_id] = order
            if order is not None:
                out.append(OrderUpdate(order=order, trade=trade))
        for cid, sym in list(tracker.open.items()):
            if sym == symbol and cid not in states:
                try:
                    states[cid] = await exchange.fetch_order(symbol, cid)
                except OrderNotFound:
                    tracker.open.pop(cid, None)
        out.extend(OrderUpdate(order=o) for o in states.values())
    return out


async def deliver(out: trio.MemorySendChannel, tracker: Tracker,
                  updates: list[OrderUpdate]) -> None:
    for update in updates:
        fresh = tracker.accept(update)
        if fresh is not None:
            await out.send(fresh)


async def poll_orders(exchange: Any, tracker: Tracker, symbols: list[str],
                      out: trio.MemorySendChannel, *, period_s: float,
                      until: trio.Event | None = None) -> None:
    """REST polling of orders and fills every ``period_s`` (until ``until`` is set)."""
    while until is None or not until.is_set():
        try:
            await deliver(out, tracker, await catch_up(exchange, tracker, symbols))
        except AuthFailed:
            raise
        except ExchangeError as exc:
            log.warning("order polling failed: %s", exc,
                        extra={"event": "order_poll_failed", "exchange": exchange.name})
        with trio.move_on_after(period_s):
            if until is None:
                await trio.sleep_forever()
            await until.wait()


async def poll_prices(exchange: Any, symbols: list[str], out: trio.MemorySendChannel, *,
                      period_s: float, now_ms: Callable[[], int],
                      until: trio.Event | None = None) -> None:
    while until is None or not until.is_set():
        try:
            prices = await exchange.fetch_prices(symbols)
            stamp = now_ms()
            for symbol, price in sorted(prices.items()):
                await out.send(PriceUpdate(symbol=symbol, price=price, ts_ms=stamp))
        except AuthFailed:
            raise
        except ExchangeError as exc:
            log.warning("price polling failed: %s", exc,
                        extra={"event": "price_poll_failed", "exchange": exchange.name})
        with trio.move_on_after(period_s):
            if until is None:
                await trio.sleep_forever()
            await until.wait()


async def run_polling(exchange: Any, symbols: list[str], tracker: Tracker,
                      out: trio.MemorySendChannel, *, now_ms: Callable[[], int]) -> None:
    """The whole stream from REST, for exchanges without a stream implementation."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(poll_orders, exchange, tracker, symbols, out,
                                   period_s=float(exchange.cfg.order_poll_sec)))
        if symbols:
            nursery.start_soon(partial(poll_prices, exchange, symbols, out,
                                       period_s=float(exchange.cfg.price_poll_sec),
                                       now_ms=now_ms))
