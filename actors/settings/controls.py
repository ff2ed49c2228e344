"""Operator controls that are not pool decisions: the paper exchange's price push, state and
reset (SPEC 12.6, 11.6 ``/api/paper/*``), the manual precision fetch and Reconnect (11.4).

Owns: nothing — each call acts on the running engine core (``EngineCore``: its port, precision
refresher and exchange health) handed in by the ``EngineHandle``.
Receives: the admin's request (already authenticated and authorised by the web layer).
Sends: ``push_price`` / ``reset`` to the paper exchange (which fans the price out to the stream
actor, hence market data and the groups); ``request_refresh`` to the precision refresher;
``credentials_changed`` to the exchange health.
Fails how: ``ActionRefused(code, message)`` — ``not_running`` (no core yet: start-up or a port
that could not be built), ``not_paper`` (the configured exchange is not the paper one),
``conflict`` (reset while a group is open or the queue is not empty), ``bad_request`` (the paper
exchange refused the symbol); ``InvalidInput`` for a malformed price. A storage failure inside
the paper exchange propagates (crash-only).
"""

from __future__ import annotations

import logging
from typing import Any

from actors.exchange.port import ExchangeError
from actors.store.writer import Store
from engine.decimals import dec, positive

log = logging.getLogger("engine.system")


class ActionRefused(Exception):
    """An operator action that cannot run now; ``code`` tells the web layer which answer."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def running(core: Any) -> Any:
    if core is None:
        raise ActionRefused("not_running", "the engine core is not running (yet)")
    return core


def paper_exchange(core: Any) -> Any:
    """The paper exchange behind the core's (health-monitored) port."""
    port = running(core).port
    inner = getattr(port, "inner", port)
    if not hasattr(inner, "push_price") or core.config.exchange.name != "paper":
        raise ActionRefused("not_paper", "the configured exchange is not the paper exchange")
    return inner


async def push_price(core: Any, symbol: object, price: object, user: str | None) -> dict:
    paper = paper_exchange(core)
    value = positive(dec(price, "price"), "price")
    if not isinstance(symbol, str) or not symbol.strip():
        raise ActionRefused("bad_request", "symbol: expected a symbol such as BTCUSDT")
    name = symbol.strip().upper()
    try:
        updates = await paper.push_price(name, value)
    except ExchangeError as exc:
        raise ActionRefused("bad_request", f"symbol: {exc}") from None
    log.info(f"paper price {name} {value} pushed", extra={
        "event": "paper_price_pushed", "symbol": name,
        "data": {"price": str(value), "user": user, "order_updates": len(updates)}})
    return {"symbol": name, "price": format(value, "f"), "order_updates": len(updates)}


def paper_state(core: Any) -> dict:
    return paper_exchange(core).state()


def reset_blockers(store: Store) -> dict[str, int]:
    """What forbids a paper reset (SPEC 12.6): non-closed groups and queue entries."""
    row = store.query(
        "SELECT (SELECT count(*) FROM position_groups WHERE status NOT IN ('closed', 'failed'))"
        " AS open_groups, (SELECT count(*) FROM queue_entries) AS queued")[0]
    return {"open_groups": row["open_groups"], "queued": row["queued"]}


async def paper_reset(core: Any, store: Store, user: str | None) -> dict:
    paper = paper_exchange(core)
    blockers = reset_blockers(store)
    if any(blockers.values()):
        raise ActionRefused("conflict", f"paper reset refused: {blockers['open_groups']} group(s)"
                            f" not closed, {blockers['queued']} queue entr(y/ies)")
    await paper.reset()
    log.info("paper exchange reset by operator", extra={"event": "paper_reset_requested",
                                                         "data": {"user": user}})
    return paper.state()


def refresh_precision(core: Any, user: str | None) -> dict:
    """The manual fetch: the refresher runs it as soon as its minimum gap allows."""
    precision = running(core).precision
    precision.request_refresh()
    log.info("precision refresh requested by operator", extra={
        "event": "precision_manual_fetch", "data": {"user": user}})
    return {"requested": True, **precision.status()}


def reconnect(core: Any, user: str | None) -> dict:
    """Reconnect (SPEC 11.4): forget a refused-credentials state so orders are tried again and
    prove the connection with a metadata fetch (its outcome updates the exchange health)."""
    core = running(core)
    health = getattr(core, "health", None)
    if health is not None:
        health.credentials_changed()
    core.precision.request_refresh()
    log.info("exchange reconnect requested", extra={"event": "exchange_reconnect",
                                                    "data": {"user": user}})
    return {"requested": True, "exchange": None if health is None else health.snapshot()}


__all__ = ["ActionRefused", "paper_reset", "paper_state", "push_price",
           "reconnect", "refresh_precision", "reset_blockers"]
