"""Entry legs: placing a pyramid, acknowledgements, rejections and rollback, fills, order ends,
market DCA0 re-anchoring and stale ladder cancellation (SPEC 3.3, 3.8-3.10, 9.1)."""

from decimal import Decimal

from engine.errors import InvalidInput
from engine.group.draft import Draft
from engine.group.lots import book_entry_fill
from engine.group.messages import (
    EntryEnded,
    LadderCancelled,
    LegSkipped,
    OrderEnded,
    PyramidAbandoned,
    PyramidAdded,
    PyramidPlan,
    PyramidRolledBack,
    TradeFilled,
)
from engine.group.price_watch import ladder_trigger, reached
from engine.group.rules import protected_price, reanchored_leg
from engine.group.state import Leg, OrderRef, Pyramid
from engine.group.tp import small_lot_at_entry_end, sync_tp
from engine.orders import Purpose
from engine.types import Level

ACTIVE_ENTRY = ("pending", "open", "partially_filled")


def validate_plan(plan: PyramidPlan, market_dca0: bool) -> None:
    if plan.reference_price <= 0:
        raise InvalidInput("plan.reference_price", f"must be > 0, got {plan.reference_price}")
    if plan.notional <= 0:
        raise InvalidInput("plan.notional", f"must be > 0, got {plan.notional}")
    if not 0 <= plan.index <= 9:
        raise InvalidInput("plan.index", f"must be 0-9, got {plan.index}")
    if not plan.legs:
        raise InvalidInput("plan.legs", "a pyramid needs at least one leg")
    if market_dca0 and [leg.index for leg in plan.legs] != [0]:
        raise InvalidInput("plan.legs", "a market DCA0 pyramid is planned with leg 0 only")
    if [leg.index for leg in plan.legs] != list(range(len(plan.legs))):
        raise InvalidInput("plan.legs", "leg indexes must run 0, 1, 2, ...")
    if len(plan.legs) > 10 or len(plan.levels) > 10:
        raise InvalidInput("plan.legs", "at most 10 legs")
    for i, leg in enumerate(plan.legs):
        for name in ("price", "qty", "tp_percent"):
            if getattr(leg, name) <= 0:
                value = getattr(leg, name)
                raise InvalidInput(f"plan.legs[{i}].{name}", f"must be > 0, got {value}")


def place_pyramid(d: Draft, plan: PyramidPlan) -> None:
    market = d.s.config.entry_order_type == "market"
    validate_plan(plan, market)
    levels = plan.levels or tuple(
        Level(gap_percent=leg.gap_percent, weight_percent=leg.weight_percent,
              tp_percent=leg.tp_percent) for leg in plan.legs)
    d.pyramids[plan.index] = Pyramid(
        index=plan.index, reference_price=plan.reference_price, notional=plan.notional,
        signal_ts_ms=plan.signal_ts_ms, received_at_ms=d.now, levels=levels,
        awaiting_anchor=market and len(levels) > 1,
        max_slippage_percent=plan.max_slippage_percent,
    )
    for pl in plan.legs:
        leg = d.put_leg(Leg(
            pyramid=plan.index, index=pl.index, gap_percent=pl.gap_percent,
            weight_percent=pl.weight_percent, tp_percent=pl.tp_percent, planned_price=pl.price,
            planned_qty=pl.qty, entry_type="market" if market and pl.index == 0 else "limit",
        ))
        place_entry(d, leg)
    d.event(PyramidAdded(index=plan.index, reference_price=plan.reference_price,
                         notional=plan.notional, legs=len(levels)))


def stale_bound(d: Draft, ref: OrderRef) -> Decimal | None:
    """Where a limit entry leg's ladder is stale (SPEC 3.10): the gateway drops it there
    rather than send it late; None for other orders and when the ladder cannot be stale."""
    if ref.purpose != Purpose.ENTRY or ref.pyramid not in d.pyramids:
        return None
    return ladder_trigger(d.s.side, d.s.config, d.pyramids[ref.pyramid])


def place_entry(d: Draft, leg: Leg) -> None:
    ref = OrderRef(pyramid=leg.pyramid, leg=leg.index, purpose=Purpose.ENTRY, attempt=leg.entry_attempt)
    side = "buy" if d.s.side == "long" else "sell"
    if leg.entry_type == "limit":
        d.place(ref, side=side, type="limit", qty=leg.planned_qty, price=leg.planned_price,
                stale_at=stale_bound(d, ref))
    elif d.ctx.slippage_action == "warn":
        d.place(ref, side=side, type="market", qty=leg.planned_qty, price=None)
    else:
        p = d.pyramids[leg.pyramid]
        ref_price = d.ctx.price or p.reference_price
        limit = p.max_slippage_percent
        limit = d.ctx.engine_max_slippage_percent if limit is None else limit
        price = protected_price(d.ctx.rules, side, ref_price, limit, ref_price)
        d.place(ref, side=side, type="limit", qty=leg.planned_qty, price=price, tif="IOC")


def on_entry_accepted(d: Draft, ref: OrderRef) -> None:
    key = (ref.pyramid, ref.leg)
    leg = d.leg(key)
    if leg.entry_state == "pending":
        d.put_leg(leg, entry_state="open")
    if d.pyramids[ref.pyramid].state != "active" or d.closing:
        for rec in d.orders_of("e", key):
            d.cancel(rec)


def on_entry_rejected(d: Draft, ref: OrderRef, reason: str) -> None:
    """Non-retryable: the leg failed and its pyramid is rolled back (SPEC 3.9 step 5)."""
    d.orders.pop(ref, None)
    key = (ref.pyramid, ref.leg)
    d.put_leg(d.leg(key), entry_state="failed")
    p = d.pyramids[ref.pyramid]
    if d.closing or p.state != "active":
        return
    if p.awaiting_anchor:
        d.put_pyramid(p, state="abandoned", awaiting_anchor=False)
        d.event(PyramidAbandoned(index=p.index, reason=f"market DCA0 rejected: {reason}"))
    else:
        d.put_pyramid(p, state="rolled_back")
        d.event(PyramidRolledBack(index=p.index, failed_leg=ref.leg, reason=reason))
    for other in list(d.legs):
        if other[0] == p.index:
            for rec in d.orders_of("e", other):
                d.cancel(rec)


def on_entry_trade(d: Draft, t: TradeFilled) -> None:
    d.count_fill(t.ref, t.qty)
    key = (t.ref.pyramid, t.ref.leg)
    book_entry_fill(d, key, t)
    sync_tp(d, key)  # a partial fill gets a TP for its filled part at once


def on_entry_end(d: Draft, msg: OrderEnded) -> None:
    rec = d.orders.pop(msg.ref, None)
    key = (msg.ref.pyramid, msg.ref.leg)
    leg = d.leg(key)
    if leg.entry_state in ("filled", "cancelled", "failed"):
        return
    filled = msg.status == "filled"
    external = msg.status == "canceled" and not msg.dropped and (
        rec is None or rec.cancel == "none")
    d.put_leg(leg, entry_state="filled" if filled else "cancelled")
    d.event(EntryEnded(pyramid=key[0], leg=key[1], state="filled" if filled else "cancelled",
                       external=external))
    p = d.pyramids[key[0]]
    if p.awaiting_anchor and key[1] == 0:
        _reanchor(d, p)
    small_lot_at_entry_end(d, key)
    sync_tp(d, key)


def _reanchor(d: Draft, p: Pyramid) -> None:
    """Market DCA0 ended: compute the other legs from its fill VWAP (SPEC 3.9 step 6)."""
    dca0 = d.leg((p.index, 0))
    if dca0.filled_qty == 0:
        d.put_pyramid(p, state="abandoned", awaiting_anchor=False)
        d.event(PyramidAbandoned(index=p.index, reason="market DCA0 got no fill"))
        return
    anchor = dca0.fill_vwap
    d.put_pyramid(p, awaiting_anchor=False, reference_price=anchor)
    if d.closing:
        return
    for i, level in enumerate(p.levels[1:], start=1):
        planned = reanchored_leg(d.ctx.rules, d.s.side, anchor, p.notional, level)
        if isinstance(planned, str):
            d.event(LegSkipped(pyramid=p.index, leg=i, reason=planned))
            continue
        price, qty = planned
        leg = d.put_leg(Leg(
            pyramid=p.index, index=i, gap_percent=level.gap_percent,
            weight_percent=level.weight_percent, tp_percent=level.tp_percent,
            planned_price=price, planned_qty=qty,
        ))
        place_entry(d, leg)


def cancel_stale_ladders(d: Draft, price: Decimal) -> None:
    """SPEC 3.10: the price ran X % to the profit side of a pyramid's reference price."""
    x = d.s.config.cancel_dca_beyond_percent
    if d.closing:
        return
    for p in list(d.pyramids.values()):
        trigger = ladder_trigger(d.s.side, d.s.config, p)
        if trigger is None or not reached(d.s.side, trigger, price):
            continue
        d.put_pyramid(p, ladder_cancelled=True)
        d.event(LadderCancelled(pyramid=p.index, price=price, percent=x))
        for key in list(d.legs):
            if key[0] == p.index:
                for rec in d.orders_of("e", key):
                    d.cancel(rec, "stale ladder")
