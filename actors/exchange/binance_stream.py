"""Binance spot streams: the user-data websocket (orders, fills) and the price websocket.

Owns: the listenKey (created with ``POST /api/v3/userDataStream``, kept alive with a PUT
every 30 minutes) and the two websocket connections.
Receives: ``executionReport`` events (``outboundAccountPosition`` is ignored: balances are read
over REST when needed) and ``<symbol>@miniTicker`` events of the combined market stream.
Sends: ``OrderUpdate``/``PriceUpdate`` into the stream channel, through the ``Tracker`` that
de-duplicates fills by trade id.
Fails how: any connection loss or REST failure -> reconnect with exponential back-off (0.5 s
doubling to 30 s); while down, REST polling every ``order_poll_sec``/``price_poll_sec``
carries on; after every (re)connect a REST catch-up is delivered before live events.
``AuthFailed`` ends the stream (raised in the consumer).
"""

import json
import logging
from decimal import Decimal
from functools import partial
from typing import Any, Callable

import trio

from actors.exchange.port import (
    AuthFailed,
    ExchangeError,
    OrderState,
    OrderStatus,
    OrderUpdate,
    PriceUpdate,
    Trade,
)
from actors.exchange.streams import Tracker, catch_up, deliver, poll_orders, poll_prices
from actors.exchange.ws import WebSocketClosed, open_websocket

log = logging.getLogger("engine.system")

WS_BASE = {False: "wss://stream.binance.com:9443", True: "wss://stream.testnet.binance.vision"}
KEEPALIVE_S = 30 * 60
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 30.0

_STATUS: dict[str, OrderStatus] = {
    "NEW": "open", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
    "CANCELED": "canceled", "PENDING_CANCEL": "open", "REJECTED": "rejected",
    "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired",
}


def execution_report(ev: dict) -> OrderUpdate:
    """One ``executionReport`` -> the order's new state and, for x=TRADE, the fill."""
    # a cancel report carries the cancel request's id in "c" and the order's own in "C"
    cid = ev.get("C") or ev["c"]
    qty, filled = Decimal(ev["q"]), Decimal(ev["z"])
    quote = Decimal(ev.get("Z") or "0")
    order_type = "market" if ev["o"] == "MARKET" else "limit"
    order = OrderState(
        client_order_id=cid, exchange_order_id=str(ev["i"]), symbol=ev["s"],
        side="sell" if ev["S"] == "SELL" else "buy", type=order_type,
        status=_STATUS.get(ev["X"], "open"),
        price=Decimal(ev["p"]) if order_type == "limit" else None,
        quantity=qty, filled_quantity=filled,
        average_price=(quote / filled) if filled > 0 else None,
        created_at_ms=int(ev.get("O") or ev["E"]), updated_at_ms=int(ev.get("T") or ev["E"]),
    )
    trade = None
    if ev["x"] == "TRADE":
        trade = Trade(
            trade_id=f"{ev['s']}:{ev['t']}", client_order_id=cid,
            exchange_order_id=str(ev["i"]), symbol=ev["s"], side=order.side,
            price=Decimal(ev["L"]), quantity=Decimal(ev["l"]), fee=Decimal(ev.get("n") or "0"),
            fee_asset=ev.get("N") or "", is_maker=bool(ev.get("m")), ts_ms=int(ev["T"]),
        )
    return OrderUpdate(order=order, trade=trade)


def ws_base(exchange: Any) -> str:
    return (exchange.ws_url or WS_BASE[bool(exchange.cfg.testnet)]).rstrip("/")


async def _backoff_polling(poll: Callable[..., Any], delay: float) -> None:
    """Keep the REST fallback running while we wait ``delay`` before reconnecting."""
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(poll, until=done))
        await trio.sleep(delay)
        done.set()
        nursery.cancel_scope.cancel()


async def user_data(exchange: Any, tracker: Tracker, symbols: list[str],
                    out: trio.MemorySendChannel) -> None:
    delay = BACKOFF_FIRST_S
    poll = partial(poll_orders, exchange, tracker, symbols, out,
                   period_s=float(exchange.cfg.order_poll_sec))
    while True:
        try:
            key = await exchange.binance_listen_key("POST")
            ws = await open_websocket(f"{ws_base(exchange)}/ws/{key}")
            try:
                # the socket is open first, so nothing that happens from now on is lost
                await deliver(out, tracker, await catch_up(exchange, tracker, symbols))
                delay = BACKOFF_FIRST_S
                renew_at = trio.current_time() + KEEPALIVE_S
                while True:
                    with trio.move_on_at(renew_at):
                        msg = json.loads(await ws.receive())
                        if msg.get("e") == "executionReport":
                            await deliver(out, tracker, [execution_report(msg)])
                        continue
                    await exchange.binance_listen_key("PUT", key)
                    renew_at = trio.current_time() + KEEPALIVE_S
            finally:
                await ws.aclose()
        except AuthFailed:
            raise
        except (WebSocketClosed, ExchangeError, ValueError, KeyError) as exc:
            log.warning("user-data stream down (%s); reconnecting in %.1f s", exc, delay,
                        extra={"event": "stream_down", "exchange": exchange.name,
                               "data": {"stream": "user", "retry_s": delay}})
        await _backoff_polling(poll, delay)
        delay = min(delay * 2, BACKOFF_MAX_S)


async def prices(exchange: Any, symbols: list[str], out: trio.MemorySendChannel, *,
                 now_ms: Callable[[], int]) -> None:
    names = "/".join(f"{s.lower()}@miniTicker" for s in symbols)
    delay = BACKOFF_FIRST_S
    poll = partial(poll_prices, exchange, symbols, out,
                   period_s=float(exchange.cfg.price_poll_sec), now_ms=now_ms)
    while True:
        try:
            ws = await open_websocket(f"{ws_base(exchange)}/stream?streams={names}")
            try:
                # a snapshot first: the ticker stream only speaks when something trades
                stamp = now_ms()
                for symbol, price in sorted((await exchange.fetch_prices(symbols)).items()):
                    await out.send(PriceUpdate(symbol=symbol, price=price, ts_ms=stamp))
                delay = BACKOFF_FIRST_S
                while True:
                    data = json.loads(await ws.receive()).get("data") or {}
                    if data.get("e") == "24hrMiniTicker":
                        await out.send(PriceUpdate(symbol=data["s"], price=Decimal(data["c"]),
                                                   ts_ms=int(data["E"])))
            finally:
                await ws.aclose()
        except AuthFailed:
            raise
        except (WebSocketClosed, ExchangeError, ValueError, KeyError) as exc:
            log.warning("price stream down (%s); reconnecting in %.1f s", exc, delay,
                        extra={"event": "stream_down", "exchange": exchange.name,
                               "data": {"stream": "prices", "retry_s": delay}})
        await _backoff_polling(poll, delay)
        delay = min(delay * 2, BACKOFF_MAX_S)


async def run_binance(exchange: Any, symbols: list[str], tracker: Tracker,
                      out: trio.MemorySendChannel, *, now_ms: Callable[[], int]) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(user_data, exchange, tracker, symbols, out)
        if symbols:
            nursery.start_soon(partial(prices, exchange, symbols, out, now_ms=now_ms))
