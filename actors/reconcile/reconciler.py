"""Reconciliation with the exchange: at start-up before any signal (SPEC 8.5) and every 60 s.

Owns: nothing persistent — built by the engine core, which awaits ``startup()`` before any
signal and then runs ``run_periodic``, the 60 s pass. Every decision is the pure diff of
``engine/reconcile.py`` (missed fills, our orders × the exchange's, balance shortfalls), plus
the follow-up of what a crash cut off between the exchange, our record and a group
(``orders.py``); this module gathers the inputs and carries out the actions.
Receives: the port, the store, the running group actors (``groups``: group id → ``GroupActor``,
or the supervisor's live registry of ``Slot``s — ``.state``, ``.actor``, ``.crashed``), the order
gateway (resends and lost cancels go through it: query-before-resend, outcome delivery).
Sends: to the groups, like the gateway does: ``TradeFilled`` (missed fills, oldest first, each
before its order's end; pass 2 waits until the groups booked them), ``OrderAccepted`` /
``OrderEnded`` / ``OrderRejected``, ``WriteOffLot`` (balance shortfalls, Error alert) and a
``Tick`` to groups in ``closing`` after a current price was given to market data
(``on_price``); to the gateway ``PlaceOrder`` (never sent, same client id) and ``CancelOrder``
(asked for before the crash); cancels of orphans to the port; orders rows and journal entries
(``records.py``); the report (counts) as a System event and a ``Reconciled`` entry.
Fails how: port calls are retried 3 times (1 s, 2 s, 4 s; rate limits: their Retry-After); an
order whose query still fails is left untouched and counted ``unresolved``. Listing open
orders, trades or balances failing after the retries raises the port's ``ExchangeError``: the
pass did not complete and the caller retries it, signals held. Storage failures propagate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import trio

from actors.reconcile import records
from actors.exchange.port import (
    Balance, ExchangeError, ExchangePort, OrderState, PriceUpdate, Trade,
)
from actors.reconcile.gather import balances_and_trades, query_each, retrying, trades_of
from actors.reconcile.orders import Gateway, GroupHandle, OrderActions, deliver, ref_of
from actors.store.writer import Store
from engine import reconcile as diff
from engine.group import GroupState
from engine.group.messages import Tick, TradeFilled, WriteOffLot
from engine.group.state import OrderRef
from engine.orders import encode_cid
from engine.types import MarketRules

log = logging.getLogger("engine.system")
order_log = logging.getLogger("engine.order")

PERIOD_S = 60.0  # SPEC 8.2
SETTLE_TIMEOUT_S = 10.0  # how long the groups get to book the missed fills before pass 2
UNFINISHED = ("pending", "open", "partially_filled", "unknown")


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # "startup" | "periodic"
    booked_fills: int = 0
    synced: int = 0
    adopted: int = 0
    resent: int = 0
    failed: int = 0
    orphans_cancelled: int = 0
    shortfalls: int = 0
    closing_resumed: int = 0
    cancels_resent: int = 0  # cancels asked for before the crash, the order still open
    unresolved: int = 0
    flagged: int = 0  # periodic: ours not open on the exchange


class Reconciler(OrderActions):
    def __init__(self, *, port: ExchangePort, store: Store, groups: Mapping[int, GroupHandle],
                 gateway: Gateway, instance: str, clock: Any,
                 rules: Callable[[str], MarketRules | None] | None = None,
                 market_type: str = "spot",
                 on_price: Callable[[PriceUpdate], None] | None = None):
        self.port = port
        self._on_price = on_price  # market data: a closing group needs a current price
        self.store = store
        self.groups = groups
        self.gateway = gateway
        self.instance = instance
        self.now_ms: Callable[[], int] = getattr(clock, "now_ms", clock)
        self._rules = rules
        self.market_type = market_type
        self.exchange = getattr(port, "name", "")
        self._flagged: set[str] = set()  # periodic: missing at the previous pass
        self._unresolved: set[str] = set()  # could not be queried: the next pass asks again

    # -- the start-up pass (SPEC 8.5 step 6) ------------------------------------------------
    async def startup(self) -> ReconcileReport:
        # what each group held in flight when the last run stopped (before anything moves)
        held = {self._cid(gid, rec.ref): (gid, rec) for gid, g in self._live().items()
                for rec in g.state.orders}
        closing = [g for g in self._live().values() if g.state.status == "closing"]
        await self._seed_prices(sorted({g.state.symbol for g in closing}))
        rows = self._our_rows(UNFINISHED)
        # one listing answers for every order still open; only the rest (ended while we were
        # down, or never placed) is queried one by one — 25,000 queries took minutes
        open_orders = await retrying(lambda: self.port.fetch_open_orders(None))
        listed = {o.client_order_id: o for o in open_orders}
        found, unresolved = await query_each(
            self.port, [r for r in rows if r["client_order_id"] not in listed])
        found.update((r["client_order_id"], listed[r["client_order_id"]]) for r in rows
                     if r["client_order_id"] in listed)
        balances, trades = await balances_and_trades(
            self.port, rows, [g.state for g in self._live().values()])
        booked = await self._book_missed(trades)
        # lots and balance compared now, while they match the snapshot (a resend below may
        # fill at once); the cuts are delivered after the orders' ends, in inbox order
        cuts = self._shortfalls(balances)
        c, handled = await self._apply_diff(rows, found, open_orders, unresolved)
        states = {**{o.client_order_id: o for o in open_orders}, **found}
        synced, cancels = await self._follow_up(held, handled, states)
        self._write_off(cuts)
        for g in closing:
            deliver(g, Tick())  # the close (4.7) continues from where it stopped
        c["synced"] += synced
        self._unresolved = unresolved
        return await self._finish(ReconcileReport(
            kind="startup", booked_fills=booked, shortfalls=len(cuts),
            closing_resumed=len(closing),
            cancels_resent=cancels, unresolved=len(unresolved), **c))

    # -- the periodic pass (SPEC 8.2): open orders only ---------------------------------------
    async def periodic(self) -> ReconcileReport:
        """Our acknowledged orders vs the exchange's open orders. Unknown ones with our prefix
        are adopted or cancelled. Ours no longer open on the exchange are flagged; still so one
        period later (so not a report the stream is delivering right now), they are queried and
        their trades and end delivered like at start-up — and so are the orders a previous pass
        could not query (a ``pending`` one is sent again if it never reached the exchange):
        left alone, a group waits on them for ever."""
        before = {r["client_order_id"] for r in self._our_rows(("open", "partially_filled"))}
        open_orders = await retrying(lambda: self.port.fetch_open_orders(None))
        on_book = {o.client_order_id for o in open_orders}
        # re-read after the listing: what the stream finished meanwhile is not a difference
        ours = self._our_rows(("open", "partially_filled"))
        missing = [r for r in ours
                   if r["client_order_id"] in before and r["client_order_id"] not in on_book]
        repeat = [r for r in missing if r["client_order_id"] in self._flagged]
        newly = {r["client_order_id"] for r in missing} - {r["client_order_id"] for r in repeat}
        # until this pass completes, every missing order counts as flagged: a pass cut short
        # by an exchange error (the next one is a period away) must not start them over
        self._flagged |= newly
        for r in missing:
            order_log.warning("order of ours is not open on the exchange", extra={
                "event": "reconcile_order_flagged", "symbol": r["symbol"],
                "group_id": r["group_id"], "order_id": r["client_order_id"],
                "data": {"state": r["state"], "resolving": r in repeat}})
        asked = self._unresolved - {r["client_order_id"] for r in repeat}
        repeat += [r for r in self._our_rows(UNFINISHED) if r["client_order_id"] in asked]
        found, unresolved = await query_each(self.port, repeat)
        self._unresolved |= unresolved
        booked = 0
        short = self._short_of_trades(ours, open_orders)
        if repeat or short:
            groups = [g.state for g in self._live().values()]
            booked = await self._book_missed(await trades_of(self.port, repeat + short, groups))
        c, _ = await self._apply_diff(repeat, found, open_orders, unresolved)
        self._flagged, self._unresolved = newly, unresolved
        report = ReconcileReport(kind="periodic", booked_fills=booked, unresolved=len(unresolved),
                                 flagged=len(missing), **c)
        if report != ReconcileReport(kind="periodic"):
            await self._finish(report)
        return report

    async def run_periodic(self, *, every_s: float = PERIOD_S,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(every_s)
            try:
                await self.periodic()
            except ExchangeError as e:  # the exchange is down: the next period tries again
                log.warning("periodic reconciliation skipped", extra={
                    "event": "reconcile_skipped", "data": {"error": str(e)}})

    async def _seed_prices(self, symbols: list[str]) -> None:
        """A closing group sells at a current price: give market data one before anything
        moves the close on (the price streams start after reconciliation)."""
        if symbols and self._on_price is not None:
            try:
                prices = await retrying(lambda: self.port.fetch_prices(symbols))
            except ExchangeError as e:  # the price stream brings one soon; the close waits
                prices = {}
                log.warning("no price for the closing groups", extra={
                    "event": "reconcile_price_failed", "data": {"error": str(e)}})
            for symbol, price in sorted(prices.items()):
                self._on_price(PriceUpdate(symbol=symbol, price=price, ts_ms=self.now_ms()))

    def _short_of_trades(self, ours: list[dict], open_orders: list[OrderState]) -> list[dict]:
        """Those of ``ours`` (our open orders rows) that filled more on the exchange than our
        fills book: a trade the stream lost while the order stays open (fault search seed 3008:
        a partial fill's lot never got its TP) — its end would catch it up, but it may rest for
        weeks."""
        filled = {o.client_order_id: o.filled_quantity for o in open_orders
                  if o.filled_quantity > 0}
        rows = [r for r in ours if r["client_order_id"] in filled]
        if not rows:
            return []
        booked = records.booked_qty(self.store, [r["client_order_id"] for r in rows])
        return [r for r in rows
                if filled[r["client_order_id"]] > booked.get(r["client_order_id"], 0)]

    # -- helpers ------------------------------------------------------------------------------
    def _live(self) -> dict[int, GroupHandle]:
        return {gid: g for gid, g in self.groups.items()
                if g.state.status not in ("closed", "failed")
                and not getattr(g, "crashed", False)}

    def _cid(self, group_id: int, ref: OrderRef) -> str:
        return encode_cid(self.instance, group_id, ref.pyramid, ref.leg, ref.purpose,
                          ref.attempt)

    def _our_rows(self, states: tuple[str, ...]) -> list[dict]:
        return records.our_rows(self.store, self.instance, states)

    # -- pass 1: missed fills -------------------------------------------------------------------
    async def _book_missed(self, trades: list[Trade]) -> int:
        live = self._live()
        seen = records.booked_trade_ids(self.store, self.exchange, {t.symbol for t in trades})
        for g in live.values():
            seen |= g.state.seen_trade_ids
        actions = diff.missed_fills(instance=self.instance, seen_trade_ids=seen, trades=[
            diff.ExchangeTrade(trade_id=t.trade_id, cid=t.client_order_id, price=t.price,
                               qty=t.quantity, fee=t.fee, fee_asset=t.fee_asset, ts_ms=t.ts_ms)
            for t in trades])
        waiting: dict[int, set[str]] = {}
        for a in actions:
            g = live.get(a.group_id)
            if g is None:
                order_log.warning("missed fill of a group that is not live: not booked", extra={
                    "event": "reconcile_fill_unrouted", "group_id": a.group_id,
                    "order_id": a.trade.cid, "data": {"trade_id": a.trade.trade_id}})
                continue
            t = a.trade
            deliver(g, TradeFilled(ref=ref_of(t.cid), trade_id=t.trade_id, price=t.price,
                                    qty=t.qty, fee=t.fee, fee_asset=t.fee_asset, ts_ms=t.ts_ms))
            waiting.setdefault(a.group_id, set()).add(t.trade_id)
            order_log.info("missed fill booked", extra={
                "event": "reconcile_fill_booked", "group_id": a.group_id, "order_id": t.cid,
                "data": {"trade_id": t.trade_id, "price": str(t.price), "qty": str(t.qty)}})
        await self._settle(live, waiting)
        return sum(len(ids) for ids in waiting.values())

    async def _settle(self, live: Mapping[int, GroupHandle], waiting: dict[int, set[str]]
                      ) -> None:
        """Pass 2 must see the groups after the fills: wait until each has booked them."""
        with trio.move_on_after(SETTLE_TIMEOUT_S) as scope:
            while any(not ids <= live[gid].state.seen_trade_ids for gid, ids in waiting.items()):
                await trio.sleep(0.01)
        if scope.cancelled_caught:
            log.error("groups did not book their missed fills in time", extra={
                "event": "reconcile_settle_timeout", "data": {"groups": sorted(waiting)}})

    # -- balances -------------------------------------------------------------------------------
    def _base_asset(self, state: GroupState) -> str | None:
        rules = self._rules(state.symbol) if self._rules is not None else None
        rules = rules or records.cached_rules(self.store, state.exchange, state.symbol)
        return None if rules is None else rules.base

    def _shortfalls(self, balances: dict[str, Balance]) -> list[diff.ReduceLot]:
        if self.market_type != "spot":
            return []  # futures lots are positions, not asset balances
        holdings = []
        for gid, g in self._live().items():
            s = g.state
            asset = self._base_asset(s) if s.side == "long" else None
            if asset is None:
                continue
            holdings += [diff.LotHolding(
                group_id=gid, group_created_ms=s.created_at_ms, asset=asset, pyramid=leg.pyramid,
                leg=leg.index, open_qty=leg.open_qty, last_fill_ms=leg.last_fill_ms or 0)
                for leg in s.legs if leg.open_qty > 0]
        held = {a: b.free + b.locked for a, b in balances.items()}
        return diff.balance_shortfalls(holdings=holdings, balances=held)

    def _write_off(self, cuts: list[diff.ReduceLot]) -> None:
        live = self._live()
        for c in cuts:
            g = live.get(c.group_id)
            log.error(f"balance shortfall: lot P{c.pyramid}-DCA{c.leg} of group {c.group_id}"
                      f" reduced by {c.qty}", extra={
                          "event": "balance_shortfall", "group_id": c.group_id,
                          "symbol": g.state.symbol if g else None,
                          "data": {"pyramid": c.pyramid, "leg": c.leg, "qty": str(c.qty)}})
            if g is not None:
                deliver(g, WriteOffLot(pyramid=c.pyramid, leg=c.leg, qty=c.qty))

    async def _finish(self, report: ReconcileReport) -> ReconcileReport:
        await records.journal_report(self.store, report)
        log.info(f"reconciliation ({report.kind}) done", extra={
            "event": "reconcile_done", "data": msgspec.structs.asdict(report)})
        return report


async def reconcile(*, port: ExchangePort, store: Store, groups: Mapping[int, GroupHandle],
                    gateway: Gateway, instance: str, clock: Any,
                    rules: Callable[[str], MarketRules | None] | None = None,
                    market_type: str = "spot",
                    on_price: Callable[[PriceUpdate], None] | None = None) -> ReconcileReport:
    """The start-up pass (SPEC 8.5 step 6): run before any signal is processed.
    ``clock``: the ``EngineClock`` (or a ``now_ms`` callable); ``rules``: the precision actor's
    ``rules`` (base assets for the balance check; default: the ``precision_cache`` table);
    ``on_price``: market data's ``on_price`` (a current price for closing groups)."""
    return await Reconciler(port=port, store=store, groups=groups, gateway=gateway,
                            instance=instance, clock=clock, rules=rules,
                            market_type=market_type, on_price=on_price).startup()
