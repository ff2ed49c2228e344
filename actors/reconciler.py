"""Reconciliation with the exchange: at start-up before any signal (SPEC 8.5) and every 60 s.

Owns: nothing persistent — a procedure run by the engine core. Every decision is the pure diff
of ``engine/reconcile.py``; this module only gathers its inputs and carries out its actions.
Receives: the port, the store, the running group actors (``groups``: group id → ``GroupActor``,
or the supervisor's live registry of ``Slot``s — ``.state``, ``.actor``, ``.crashed``), the order
gateway (resends go through ``gateway.place``: its query-before-resend and outcome delivery).
Sends: to the groups, like the gateway does: ``TradeFilled`` (missed fills, oldest first, each
before its order's end), ``OrderAccepted`` / ``OrderEnded`` (orders whose exchange state moved
on), ``WriteOffLot`` (balance shortfalls) and a ``Tick`` to groups in ``closing`` (their close
continues); ``PlaceOrder`` to the gateway (a never-sent order, same client id); cancels of
orphans to the port; orders rows (synced / adopted / ``failed``) and one ``Reconciled`` journal
entry; the report as a System event.
Fails how: a port call is retried 3 times (1 s, 2 s, 4 s; rate limits: their Retry-After); an
order whose query still fails is left untouched and counted ``unresolved`` (the next pass takes
it up). Listing open orders, trades or balances failing after the retries raises the port's
``ExchangeError``: the pass did not complete, and the caller keeps signals held and retries.
A storage failure propagates (crash-only).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import msgspec
import trio

from actors.exchange.port import (
    Balance, ExchangeError, ExchangePort, OrderNotFound, OrderState, OutcomeUnknown, RateLimited,
    Trade, Unavailable,
)
from actors import reconciler_records as records
from actors.store import Store
from engine import reconcile as diff
from engine.group import GroupState, wants_order
from engine.group.messages import (
    GroupInput, OrderAccepted, OrderEnded, PlaceOrder, Tick, TradeFilled, WriteOffLot,
)
from engine.group.state import OrderRef
from engine.orders import decode_cid
from engine.types import MarketRules

log = logging.getLogger("engine.system")
order_log = logging.getLogger("engine.order")

BACKOFF_S = (1.0, 2.0, 4.0)  # SPEC 9.2
PERIOD_S = 60.0  # SPEC 8.2
TRADES_MARGIN_MS = 60_000  # exchange and engine clocks differ a little: fetch trades earlier
SETTLE_TIMEOUT_S = 10.0  # how long the groups get to book the missed fills before pass 2
UNFINISHED = ("pending", "open", "partially_filled", "unknown")
FINAL = ("filled", "canceled", "expired", "rejected")


class GroupHandle(Protocol):
    """A ``GroupActor`` (``deliver``), or a supervisor ``Slot`` (``actor.deliver``)."""

    @property
    def state(self) -> GroupState: ...


def _deliver(g: Any, msg: GroupInput) -> None:
    (g.deliver if hasattr(g, "deliver") else g.actor.deliver)(msg)


class Gateway(Protocol):
    async def place(self, cmd: PlaceOrder) -> None: ...


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
    unresolved: int = 0
    flagged: int = 0  # periodic: ours not open on the exchange


def _ref(cid: str) -> OrderRef:
    p = decode_cid(cid)
    assert p is not None  # only our own ids reach here
    return OrderRef(pyramid=p.pyramid, leg=p.leg, purpose=p.purpose, attempt=p.attempt)


def _exchange_order(s: OrderState) -> diff.ExchangeOrder:
    return diff.ExchangeOrder(cid=s.client_order_id, status=s.status, filled_qty=s.filled_quantity)


async def _retrying(call: Callable[[], Awaitable[Any]]) -> Any:
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


class Reconciler:
    def __init__(self, *, port: ExchangePort, store: Store, groups: Mapping[int, GroupHandle],
                 gateway: Gateway, instance: str, clock: Any,
                 rules: Callable[[str], MarketRules | None] | None = None,
                 market_type: str = "spot"):
        self.port = port
        self.store = store
        self.groups = groups
        self.gateway = gateway
        self.instance = instance
        self.now_ms: Callable[[], int] = getattr(clock, "now_ms", clock)
        self._rules = rules
        self.market_type = market_type
        self.exchange = getattr(port, "name", "")
        self._flagged: set[str] = set()  # periodic: missing at the previous pass

    # -- the start-up pass (SPEC 8.5 step 6) ------------------------------------------------
    async def startup(self) -> ReconcileReport:
        rows = self._our_rows(UNFINISHED)
        found, unresolved = await self._query_each(rows)
        open_orders = await _retrying(lambda: self.port.fetch_open_orders(None))
        balances, trades = await self._consistent_snapshot(rows)
        booked = await self._book_missed(trades)
        # lots and balance compared now, while they match the snapshot (a resend below may
        # fill at once); the cuts are delivered after the orders' ends, in inbox order
        cuts = self._shortfalls(balances)
        c = await self._apply_diff(rows, found, open_orders, unresolved)
        self._write_off(cuts)
        closing = 0
        for g in self._live().values():
            if g.state.status == "closing":
                _deliver(g, Tick())  # the close (4.7) continues from where it stopped
                closing += 1
        return await self._finish(ReconcileReport(
            kind="startup", booked_fills=booked, shortfalls=len(cuts), closing_resumed=closing,
            unresolved=len(unresolved), **c))

    # -- the periodic pass (SPEC 8.2): open orders only ---------------------------------------
    async def periodic(self) -> ReconcileReport:
        """Our acknowledged orders vs the exchange's open orders. Unknown ones with our prefix
        are adopted or cancelled. Ours no longer open on the exchange are flagged; still so one
        period later (so not a report the stream is delivering right now), they are queried and
        their trades and end delivered like at start-up."""
        before = {r["client_order_id"] for r in self._our_rows(("open", "partially_filled"))}
        open_orders = await _retrying(lambda: self.port.fetch_open_orders(None))
        on_book = {o.client_order_id for o in open_orders}
        # re-read after the listing: what the stream finished meanwhile is not a difference
        missing = [r for r in self._our_rows(("open", "partially_filled"))
                   if r["client_order_id"] in before and r["client_order_id"] not in on_book]
        repeat = [r for r in missing if r["client_order_id"] in self._flagged]
        self._flagged = {r["client_order_id"] for r in missing} - {
            r["client_order_id"] for r in repeat}
        for r in missing:
            order_log.warning("order of ours is not open on the exchange", extra={
                "event": "reconcile_order_flagged", "symbol": r["symbol"],
                "group_id": r["group_id"], "order_id": r["client_order_id"],
                "data": {"state": r["state"], "resolving": r in repeat}})
        found, unresolved = await self._query_each(repeat)
        booked = await self._book_missed(await self._fetch_trades(repeat)) if repeat else 0
        c = await self._apply_diff(repeat, found, open_orders, unresolved)
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

    # -- gathering ----------------------------------------------------------------------------
    def _live(self) -> dict[int, GroupHandle]:
        return {gid: g for gid, g in self.groups.items()
                if g.state.status not in ("closed", "failed") and not getattr(g, "crashed", False)}

    def _our_rows(self, states: tuple[str, ...]) -> list[dict]:
        return records.our_rows(self.store, self.instance, states)

    async def _query_each(self, rows: list[dict]) -> tuple[dict[str, OrderState], set[str]]:
        found: dict[str, OrderState] = {}
        unresolved: set[str] = set()
        for r in rows:
            cid = r["client_order_id"]
            try:
                found[cid] = await _retrying(lambda: self.port.fetch_order(r["symbol"], cid))
            except OrderNotFound:
                pass
            except ExchangeError as e:
                unresolved.add(cid)
                order_log.error("order could not be queried: left as it is", extra={
                    "event": "reconcile_unresolved", "symbol": r["symbol"], "order_id": cid,
                    "group_id": r["group_id"], "data": {"error": str(e)}})
        return found, unresolved

    async def _fetch_trades(self, rows: list[dict]) -> list[Trade]:
        """Trades of every symbol with an unfinished order or a live group, since the oldest of
        them (an order recorded as filled may still have a fill its group never booked)."""
        since: dict[str, int] = {}
        for r in rows:
            since[r["symbol"]] = min(since.get(r["symbol"], r["created_at"]), r["created_at"])
        for g in self._live().values():
            s = g.state
            since[s.symbol] = min(since.get(s.symbol, s.created_at_ms), s.created_at_ms)
        out: list[Trade] = []
        for symbol, t0 in sorted(since.items()):
            out += await _retrying(
                lambda: self.port.fetch_my_trades(symbol, max(0, t0 - TRADES_MARGIN_MS)))
        return out

    async def _consistent_snapshot(self, rows: list[dict]
                                   ) -> tuple[dict[str, Balance], list[Trade]]:
        """Balances and trades taken so that no fill happened in between: a fill between the
        two would make the lots and the balance disagree (a false shortfall)."""
        balances = await _retrying(self.port.fetch_balances)
        for _ in range(3):
            trades = await self._fetch_trades(rows)
            again = await _retrying(self.port.fetch_balances)
            if again == balances:
                break
            balances = again
        return balances, trades

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
            _deliver(g, TradeFilled(ref=_ref(t.cid), trade_id=t.trade_id, price=t.price, qty=t.qty,
                                  fee=t.fee, fee_asset=t.fee_asset, ts_ms=t.ts_ms))
            waiting.setdefault(a.group_id, set()).add(t.trade_id)
            order_log.info("missed fill booked", extra={
                "event": "reconcile_fill_booked", "group_id": a.group_id, "order_id": t.cid,
                "data": {"trade_id": t.trade_id, "price": str(t.price), "qty": str(t.qty)}})
        await self._settle(live, waiting)
        return sum(len(ids) for ids in waiting.values())

    async def _settle(self, live: Mapping[int, GroupHandle], waiting: dict[int, set[str]]) -> None:
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
                _deliver(g, WriteOffLot(pyramid=c.pyramid, leg=c.leg, qty=c.qty))

    # -- pass 2: the orders ---------------------------------------------------------------------
    async def _apply_diff(self, rows: list[dict], found: dict[str, OrderState],
                          open_orders: list[OrderState], unresolved: set[str]) -> dict[str, int]:
        live = self._live()
        ours, by_cid = [], {}
        for r in rows:
            cid = r["client_order_id"]
            if cid in unresolved:
                continue
            by_cid[cid] = r
            g = live.get(r["group_id"])
            state = "pending" if r["state"] == "unknown" else r["state"]
            ours.append(diff.OurOrder(cid=cid, group_id=r["group_id"], state=state,
                                      still_wanted=g is not None and wants_order(g.state,
                                                                                 _ref(cid))))
        known = records.known_cids(self.store, [o.client_order_id for o in open_orders])
        listed = [_exchange_order(o) for o in open_orders
                  if o.client_order_id not in known or o.client_order_id in by_cid]
        actions = diff.diff_orders(
            instance=self.instance, ours=ours, open_orders=listed, known_groups=set(live),
            found={cid: _exchange_order(s) for cid, s in found.items() if cid in by_cid})
        states = {**{o.client_order_id: o for o in open_orders}, **found}
        counts = {"synced": 0, "adopted": 0, "resent": 0, "failed": 0, "orphans_cancelled": 0}
        for a in actions:
            match a:
                case diff.SyncOrder():
                    await self._sync(a, states.get(a.cid), live.get(a.group_id))
                    counts["synced"] += 1
                case diff.Resend():
                    cmd = msgspec.json.decode(by_cid[a.cid]["request"], type=PlaceOrder)
                    order_log.info("order never reached the exchange: sent again, same id",
                                   extra={"event": "reconcile_resend", "group_id": a.group_id,
                                          "order_id": a.cid, "symbol": cmd.symbol})
                    await self.gateway.place(cmd)
                    counts["resent"] += 1
                case diff.MarkFailed():
                    await self._mark_failed(a, live.get(a.group_id))
                    counts["failed"] += 1
                case diff.Adopt():
                    await self._adopt(a, states[a.order.cid])
                    counts["adopted"] += 1
                case diff.CancelOrphan():
                    counts["orphans_cancelled"] += await self._cancel_orphan(states[a.cid])
                case _:
                    raise TypeError(f"unexpected reconciliation action {a!r}")
        return counts

    async def _sync(self, a: diff.SyncOrder, ex: OrderState | None, g: GroupHandle | None) -> None:
        state = a.status
        await records.update_order(self.store, a.cid, state=state, ex=ex,
                                   note=f"reconciled: {state}", now_ms=self.now_ms())
        if g is None:
            return
        ref = _ref(a.cid)
        rec = next((o for o in g.state.orders if o.ref == ref), None)
        if rec is None:
            return  # the group already saw this order end: only the record was behind
        if state in FINAL:
            _deliver(g, OrderEnded(ref=ref, status=state))
        elif rec.state != "open":
            _deliver(g, OrderAccepted(ref=ref,
                                        exchange_order_id=ex.exchange_order_id if ex else ""))

    async def _mark_failed(self, a: diff.MarkFailed, g: GroupHandle | None) -> None:
        await records.update_order(self.store, a.cid, state="failed", ex=None, now_ms=self.now_ms(),
                                   note="reconciled: never sent, no longer wanted")
        order_log.info("order never reached the exchange and is no longer wanted: failed",
                       extra={"event": "reconcile_mark_failed", "group_id": a.group_id,
                              "order_id": a.cid})
        ref = _ref(a.cid)
        if g is not None and any(o.ref == ref for o in g.state.orders):
            _deliver(g, OrderEnded(ref=ref, status="canceled"))  # asked-for: not external

    async def _adopt(self, a: diff.Adopt, ex: OrderState) -> None:
        await records.insert_adopted(self.store, exchange=self.exchange, group_id=a.group_id,
                                     ex=ex, now_ms=self.now_ms())
        order_log.warning("unknown order with our prefix adopted", extra={
            "event": "order_adopted", "group_id": a.group_id, "symbol": ex.symbol,
            "order_id": ex.client_order_id, "data": {"status": ex.status,
                                                     "qty": str(ex.quantity)}})

    async def _cancel_orphan(self, ex: OrderState) -> int:
        cid = ex.client_order_id
        try:
            await _retrying(lambda: self.port.cancel_order(ex.symbol, cid))
        except OrderNotFound:
            return 0  # it ended by itself meanwhile
        except ExchangeError as e:
            order_log.error("orphan order could not be cancelled", extra={
                "event": "orphan_cancel_failed", "symbol": ex.symbol, "order_id": cid,
                "data": {"error": str(e)}})
            return 0
        order_log.warning("orphan order of an unknown group cancelled", extra={
            "event": "orphan_cancelled", "symbol": ex.symbol, "order_id": cid,
            "data": {"group_id": decode_cid(cid).group_id}})
        return 1

    async def _finish(self, report: ReconcileReport) -> ReconcileReport:
        await records.journal_report(self.store, report)
        log.info(f"reconciliation ({report.kind}) done", extra={
            "event": "reconcile_done", "data": msgspec.structs.asdict(report)})
        return report


async def reconcile(*, port: ExchangePort, store: Store, groups: Mapping[int, GroupHandle],
                    gateway: Gateway, instance: str, clock: Any,
                    rules: Callable[[str], MarketRules | None] | None = None,
                    market_type: str = "spot") -> ReconcileReport:
    """The start-up pass (SPEC 8.5 step 6): run before any signal is processed.
    ``clock``: the ``EngineClock`` (or a ``now_ms`` callable); ``rules``: the precision actor's
    ``rules`` (base assets for the balance check; default: the ``precision_cache`` table)."""
    return await Reconciler(port=port, store=store, groups=groups, gateway=gateway,
                            instance=instance, clock=clock, rules=rules,
                            market_type=market_type).startup()


async def reconcile_at_start(core: Any) -> ReconcileReport:
    """The engine core's start-up hook (``actors/engine_core.py``): the start-up pass over the
    supervisor's restored groups. The reconciler is left on ``core.reconciler`` for the
    periodic pass (``nursery.start(core.reconciler.run_periodic)``)."""
    core.reconciler = Reconciler(
        port=core.port, store=core.store, groups=core.supervisor.groups, gateway=core.gateway,
        instance=core.instance, clock=core.clock, rules=core.precision.rules,
        market_type=core.config.exchange.market_type)
    return await core.reconciler.startup()
