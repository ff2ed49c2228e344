"""Pass 2 of reconciliation: our orders against the exchange's, and carrying out the diff.

Owns: nothing (a mixin of ``actors/reconcile/reconciler.py``'s ``Reconciler``, which provides ``port``,
``store``, ``gateway``, ``instance``, ``exchange``, ``now_ms`` and ``_live()``).
Receives: our unfinished orders rows, the exchange's answers for them, its open orders, and what
each live group held in flight before the restart.
Sends: to the groups (``deliver``: never blocks) ``OrderAccepted`` / ``OrderEnded`` /
``OrderRejected``; to the gateway ``PlaceOrder`` (``Resend``: same client id, into its line, all
at once so the line keeps its own order) and ``CancelOrder``
(a cancel lost in a crash); orphans' cancels to the port; orders rows through
``reconciler_records``. Every decision comes from ``engine.reconcile.diff_orders`` or, for what
a crash cut off between the exchange, our record and the group, from ``_follow_up``.
Fails how: an orphan whose cancel fails is logged (Error) and left for the next pass; a storage
failure propagates (crash-only).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import msgspec

from actors.reconcile import records
from actors.exchange.port import ExchangeError, OrderNotFound, OrderState
from actors.reconcile.gather import retrying
from engine import reconcile as diff
from engine.group import GroupState, wants_order
from engine.group.messages import (
    CancelOrder, GroupInput, OrderAccepted, OrderEnded, OrderRejected, PlaceOrder,
)
from engine.group.state import OrderRec, OrderRef
from engine.orders import decode_cid

log = logging.getLogger("engine.order")

FINAL = ("filled", "canceled", "expired", "rejected")


class GroupHandle(Protocol):
    """A ``GroupActor`` (``deliver``), or a supervisor ``Slot`` (``actor.deliver``)."""

    @property
    def state(self) -> GroupState: ...


class Gateway(Protocol):
    def submit(self, cmd: PlaceOrder) -> None: ...

    async def cancel(self, cmd: CancelOrder) -> None: ...


def deliver(g: Any, msg: GroupInput) -> None:
    """To the group's inbox the way the gateway delivers (send_nowait, never blocks)."""
    (g.deliver if hasattr(g, "deliver") else g.actor.deliver)(msg)


def ref_of(cid: str) -> OrderRef:
    p = decode_cid(cid)
    assert p is not None  # only our own ids reach here
    return OrderRef(pyramid=p.pyramid, leg=p.leg, purpose=p.purpose, attempt=p.attempt)


def _exchange_order(s: OrderState) -> diff.ExchangeOrder:
    return diff.ExchangeOrder(cid=s.client_order_id, status=s.status, filled_qty=s.filled_quantity)


class OrderActions:
    async def _apply_diff(self, rows: list[dict], found: dict[str, OrderState],
                          open_orders: list[OrderState], unresolved: set[str]
                          ) -> tuple[dict[str, int], set[str]]:
        """Our records × the exchange (``diff_orders``); returns the counts and the ids acted
        on (the unresolved ones included: nothing may be done about them this time)."""
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
                                                                                 ref_of(cid))))
        known = records.known_cids(self.store, [o.client_order_id for o in open_orders])
        listed = [_exchange_order(o) for o in open_orders
                  if o.client_order_id not in known or o.client_order_id in by_cid]
        actions = diff.diff_orders(
            instance=self.instance, ours=ours, open_orders=listed, known_groups=set(live),
            found={cid: _exchange_order(s) for cid, s in found.items() if cid in by_cid})
        states = {**{o.client_order_id: o for o in open_orders}, **found}
        counts = {"synced": 0, "adopted": 0, "resent": 0, "failed": 0, "orphans_cancelled": 0}
        resends: list[PlaceOrder] = []
        for a in actions:
            match a:
                case diff.SyncOrder():
                    await self._sync(a, states.get(a.cid), live.get(a.group_id))
                    counts["synced"] += 1
                case diff.Resend():
                    cmd = msgspec.json.decode(by_cid[a.cid]["request"], type=PlaceOrder)
                    log.info("order never reached the exchange: sent again, same id",
                                   extra={"event": "reconcile_resend", "group_id": a.group_id,
                                          "order_id": a.cid, "symbol": cmd.symbol})
                    resends.append(cmd)
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
        for cmd in resends:  # together, so the gateway's line has them in its own order
            self.gateway.submit(cmd)
        return counts, unresolved | {a.cid for a in actions if hasattr(a, "cid")}

    async def _follow_up(self, held: dict[str, tuple[int, OrderRec]], handled: set[str],
                         states: dict[str, OrderState]) -> tuple[int, int]:
        """What a group held in flight whose outcome the crash cut off between the exchange,
        the record and the group: an acknowledgement never delivered (told by the stream
        only), an end recorded but never booked by the group, a cancel asked for but never
        sent. Ids in ``handled`` had their outcome delivered by the diff already; only a cancel
        they still owe is sent. Returns (outcomes delivered, cancels sent again)."""
        synced = cancels = 0
        live = self._live()
        for cid, (gid, rec) in held.items():
            g = live.get(gid)
            if g is None or not any(o.ref == rec.ref for o in g.state.orders):
                continue
            ex = states.get(cid)
            if cid in handled:
                # e.g. partly filled while we were down (a SyncOrder): still resting, and the
                # group asked for its cancel before the crash — without it the close waits
                if (ex is not None and ex.status not in FINAL
                        and rec.cancel == "requested"):
                    await self.gateway.cancel(CancelOrder(group_id=gid, ref=rec.ref,
                                                          symbol=g.state.symbol))
                    cancels += 1
                continue
            if ex is None:  # finished in our record: the group gets the recorded end
                row = self.store.query("SELECT state FROM orders WHERE client_order_id = ?",
                                       (cid,))
                end = row[0]["state"] if row else None
                if end == "rejected":
                    deliver(g, OrderRejected(ref=rec.ref, retryable=False,
                                              reason="rejected (recorded before a restart)"))
                elif end in (*FINAL, "failed"):
                    deliver(g, OrderEnded(ref=rec.ref,
                                           status="canceled" if end == "failed" else end))
                synced += end in (*FINAL, "failed")
                continue
            # still open on the exchange (an unfinished row ending there was handled above)
            if rec.state != "open":
                deliver(g, OrderAccepted(ref=rec.ref, exchange_order_id=ex.exchange_order_id))
                synced += 1
            if rec.cancel == "requested":
                await self.gateway.cancel(CancelOrder(group_id=gid, ref=rec.ref,
                                                      symbol=g.state.symbol))
                cancels += 1
        return synced, cancels

    async def _sync(self, a: diff.SyncOrder, ex: OrderState | None, g: GroupHandle | None
                    ) -> None:
        state = a.status
        await records.update_order(self.store, a.cid, state=state, ex=ex,
                                   note=f"reconciled: {state}", now_ms=self.now_ms())
        if g is None:
            return
        ref = ref_of(a.cid)
        rec = next((o for o in g.state.orders if o.ref == ref), None)
        if rec is None:
            return  # the group already saw this order end: only the record was behind
        if state in FINAL:
            deliver(g, OrderEnded(ref=ref, status=state))
        elif rec.state != "open":
            deliver(g, OrderAccepted(ref=ref, exchange_order_id=ex.exchange_order_id if ex else ""))

    async def _mark_failed(self, a: diff.MarkFailed, g: GroupHandle | None) -> None:
        await records.update_order(self.store, a.cid, state="failed", ex=None,
                                   note="reconciled: never sent, no longer wanted",
                                   now_ms=self.now_ms())
        log.info("order never reached the exchange and is no longer wanted: failed",
                       extra={"event": "reconcile_mark_failed", "group_id": a.group_id,
                              "order_id": a.cid})
        ref = ref_of(a.cid)
        if g is not None and any(o.ref == ref for o in g.state.orders):
            deliver(g, OrderEnded(ref=ref, status="canceled"))  # asked-for: not external

    async def _adopt(self, a: diff.Adopt, ex: OrderState) -> None:
        await records.insert_adopted(self.store, exchange=self.exchange, group_id=a.group_id,
                                     ex=ex, now_ms=self.now_ms())
        log.warning("unknown order with our prefix adopted", extra={
            "event": "order_adopted", "group_id": a.group_id, "symbol": ex.symbol,
            "order_id": ex.client_order_id, "data": {"status": ex.status,
                                                     "qty": str(ex.quantity)}})

    async def _cancel_orphan(self, ex: OrderState) -> int:
        cid = ex.client_order_id
        try:
            await retrying(lambda: self.port.cancel_order(ex.symbol, cid))
        except OrderNotFound:
            return 0  # it ended by itself meanwhile
        except ExchangeError as e:
            log.error("orphan order could not be cancelled", extra={
                "event": "orphan_cancel_failed", "symbol": ex.symbol, "order_id": cid,
                "data": {"error": str(e)}})
            return 0
        log.warning("orphan order of an unknown group cancelled", extra={
            "event": "orphan_cancelled", "symbol": ex.symbol, "order_id": cid,
            "data": {"group_id": decode_cid(cid).group_id}})
        return 1

