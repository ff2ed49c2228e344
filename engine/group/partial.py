"""Partial closes: ``reduce`` and Risk Engine winners (SPEC 4.5).

Q is taken from the most recently filled lots first; a lot that would keep a remainder below the
minimums is taken whole; a close that would leave the position itself below the minimums becomes
a full close. The affected TP orders are cancelled first (on spot they lock the base asset),
their fills are booked, Q is re-planned against what is left, then one closing order is sent.
Afterwards a reduced lot gets a new TP at the same price; a lot taken whole stays Closed.
"""

from decimal import Decimal
from typing import Literal

from engine.decimals import ZERO
from engine.group.closing import is_market, send_close_order, start_full_close
from engine.group.draft import Draft, replace
from engine.group.lots import book_exit
from engine.group.messages import CloseFilled, PartialCloseDone, TradeFilled
from engine.group.rules import meets_minimums, round_qty
from engine.group.state import Allocation, PartialClose
from engine.group.tp import sync_all, wanted_tp_price
from engine.orders import Purpose

PlanKind = Literal["partial", "full", "skip"]


def plan_partial(d: Draft, qty: Decimal, price: Decimal
                 ) -> tuple[PlanKind, tuple[Allocation, ...], Decimal]:
    """(kind, allocations, Q) for selling ``qty`` now. Q is rounded down and capped first."""
    rules, market = d.ctx.rules, is_market(d)
    open_qty = d.open_qty
    q = min(round_qty(rules, qty, market=market), open_qty)
    if open_qty > 0 and q >= open_qty:
        return "full", (), q
    if not meets_minimums(rules, q, price, market=market):
        return "skip", (), q
    lots = sorted((g for g in d.legs.values() if g.open_qty > 0),
                  key=lambda g: (g.last_fill_ms or 0, g.pyramid, g.index), reverse=True)
    allocs: list[Allocation] = []
    remaining = q
    for leg in lots:
        if remaining <= 0:
            break
        take = min(leg.open_qty, remaining)
        rest = leg.open_qty - take
        if rest > 0:
            # a remainder is valued at its TP price while a TP order would carry it
            value = price if d.s.config.tp_mode == "aggregate" else wanted_tp_price(d, leg)
            if not meets_minimums(rules, rest, value, market=False):
                take, rest = leg.open_qty, ZERO
        allocs.append(Allocation(pyramid=leg.pyramid, leg=leg.index, qty=take, whole=rest == 0))
        remaining -= take
    left = open_qty - sum((a.qty for a in allocs), ZERO)
    if left <= 0 or not meets_minimums(rules, left, price, market=market):
        return "full", (), q
    return "partial", tuple(allocs), q


def full_reason(purpose: str) -> Literal["reduce_full", "risk_winner_full"]:
    return "reduce_full" if purpose == Purpose.REDUCE else "risk_winner_full"


def start_partial(d: Draft, purpose: Literal["d", "r"], q: Decimal,
                  allocs: tuple[Allocation, ...], max_slippage_percent: Decimal | None,
                  request_id: str | None) -> None:
    d.set(partial=PartialClose(
        purpose=purpose, requested_qty=q, allocations=allocs,
        max_slippage_percent=max_slippage_percent, request_id=request_id,
        realized_before=d.s.realized_pnl,
    ))
    _cancel_tps(d, allocs)


def _cancel_tps(d: Draft, allocs: tuple[Allocation, ...]) -> bool:
    """Cancel the TP orders of the allocated lots; True when none is in flight any more."""
    busy = False
    for a in allocs:
        for rec in d.orders_of("t", (a.pyramid, a.leg)):
            d.cancel(rec)
            busy = True
    return not busy


def progress_partial(d: Draft) -> None:
    p = d.s.partial
    if p is None or p.phase != "cancelling" or d.ctx.price is None:
        return
    if not _cancel_tps(d, p.allocations):
        return
    # the cancellations may have reported TP fills: re-plan against what is left
    kind, allocs, q = plan_partial(d, p.requested_qty, d.ctx.price)
    if kind == "full":
        d.set(partial=None)
        start_full_close(d, full_reason(p.purpose), p.max_slippage_percent)
        return
    if kind == "skip":
        _done(d, p)
        return
    d.set(partial=replace(p, allocations=allocs))
    if not _cancel_tps(d, allocs):
        return  # the new plan touches lots whose TPs still rest
    total = sum((a.qty for a in allocs), ZERO)
    d.set(partial=replace(d.s.partial, phase="selling"))
    if not send_close_order(d, p.purpose, total, p.max_slippage_percent):
        _done(d, d.s.partial)


def on_partial_trade(d: Draft, t: TradeFilled) -> Decimal:
    """Book a trade of the partial close on its allocations (in LIFO order)."""
    p = d.s.partial
    already, plan = p.sold_qty, []
    for a in p.allocations:
        used = min(a.qty, already)
        already -= used
        plan.append(((a.pyramid, a.leg), a.qty - used))
    realized = book_exit(d, t, plan)
    d.set(partial=replace(p, sold_qty=p.sold_qty + t.qty))
    d.event(CloseFilled(purpose=p.purpose, trade_id=t.trade_id, qty=t.qty, price=t.price,
                        realized=realized))
    return realized


def on_partial_order_end(d: Draft) -> None:
    p = d.s.partial
    if p is not None and p.phase == "selling":
        _done(d, p)


def _done(d: Draft, p: PartialClose) -> None:
    for a in p.allocations:
        leg = d.leg((a.pyramid, a.leg))
        if leg.open_qty == 0 and leg.filled_qty > 0 and leg.tp_state != "hit":
            keep = leg.tp_state == "external_cancel"
            d.put_leg(leg, closed_otherwise=True, tp_state=leg.tp_state if keep else "cancelled")
    d.set(partial=None)
    d.event(PartialCloseDone(
        purpose=p.purpose, request_id=p.request_id,
        planned_qty=sum((a.qty for a in p.allocations), ZERO), sold_qty=p.sold_qty,
        realized=d.s.realized_pnl - p.realized_before,
    ))
    sync_all(d)  # reduced lots get a new TP at the same price (next attempt)
