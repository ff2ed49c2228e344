"""What reconciliation reads from the exchange: orders by client id, trades, balances.

Owns: nothing (helpers of ``actors/reconcile/reconciler.py``).
Receives: the exchange port and our orders rows / live group states.
Sends: port queries only — never an order, never a cancel.
Fails how: every call is retried 3 times (1 s, 2 s, 4 s; a rate limit waits its Retry-After,
SPEC 9.2), then the port's ``ExchangeError`` propagates — except ``query_each``, which reports
an order it could not query as unresolved and goes on with the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from actors.exchange.port import (
    Balance, ExchangeError, ExchangePort, OrderNotFound, OrderState, OutcomeUnknown, RateLimited,
    Trade, Unavailable,
)
from engine.group import GroupState

import trio

log = logging.getLogger("engine.order")

BACKOFF_S = (1.0, 2.0, 4.0)  # SPEC 9.2
TRADES_MARGIN_MS = 60_000  # exchange and engine clocks differ a little: fetch trades earlier


async def retrying(call: Callable[[], Awaitable[Any]]) -> Any:
    """One port call with the SPEC 9.2 retries; the last failure propagates."""
    for delay in (*BACKOFF_S, None):
        try:
            return await call()
        except RateLimited as e:
            if delay is None:
                raise
            await trio.sleep(e.retry_after_s)
        except (OutcomeUnknown, Unavailable):
            if delay is None:
                raise
            await trio.sleep(delay)


async def query_each(port: ExchangePort, rows: list[dict]
                     ) -> tuple[dict[str, OrderState], set[str]]:
    """Each row's order by client id: (found, unresolved); absent from both = not found."""
    found: dict[str, OrderState] = {}
    unresolved: set[str] = set()
    for r in rows:
        cid, symbol = r["client_order_id"], r["symbol"]
        try:
            found[cid] = await retrying(lambda: port.fetch_order(symbol, cid))
        except OrderNotFound:
            pass
        except ExchangeError as e:
            unresolved.add(cid)
            log.error("order could not be queried: left as it is", extra={
                "event": "reconcile_unresolved", "symbol": symbol, "order_id": cid,
                "group_id": r["group_id"], "data": {"error": str(e)}})
    return found, unresolved


async def trades_of(port: ExchangePort, rows: list[dict], groups: Iterable[GroupState]
                    ) -> list[Trade]:
    """Trades of every symbol with one of ``rows`` or a live group, since the oldest of them
    (an order recorded as filled may still have a fill its group never booked)."""
    since: dict[str, int] = {}
    for symbol, t0 in [(r["symbol"], r["created_at"]) for r in rows] + [
            (s.symbol, s.created_at_ms) for s in groups]:
        since[symbol] = min(since.get(symbol, t0), t0)
    out: list[Trade] = []
    for symbol, t0 in sorted(since.items()):
        out += await retrying(lambda: port.fetch_my_trades(symbol, max(0, t0 - TRADES_MARGIN_MS)))
    return out


async def balances_and_trades(port: ExchangePort, rows: list[dict], groups: list[GroupState]
                              ) -> tuple[dict[str, Balance], list[Trade]]:
    """Balances and trades taken so that no fill happened in between: a fill between the two
    would make the lots and the balance disagree (a false shortfall)."""
    balances = await retrying(port.fetch_balances)
    for _ in range(3):
        trades = await trades_of(port, rows, groups)
        again = await retrying(port.fetch_balances)
        if again == balances:
            break
        balances = again
    return balances, trades
