"""Per-leg take-profit orders (SPEC 4.2, 4.4, 9.1).

One resting LIMIT per lot, sized to the lot's open quantity at the TP price from the leg's fill
VWAP. A lot that changes gets its TP replaced (cancel, then a new order with the next attempt);
while a replacement is in flight further changes wait, so many small fills cost one more order.
"""

from decimal import Decimal

from engine.group.draft import Draft
from engine.group.lots import book_exit
from engine.group.messages import LotToDust, OrderEnded, TpFilled, TpProblem, TradeFilled
from engine.group.rules import leg_tp_price, tp_order_valid
from engine.group.state import Leg, OrderRef
from engine.orders import Purpose


def exit_side(d: Draft) -> str:
    return "sell" if d.s.side == "long" else "buy"


def tp_enabled(d: Draft) -> bool:
    return d.s.config.tp_mode != "aggregate"


def in_partial_close(d: Draft, key: tuple[int, int]) -> bool:
    p = d.s.partial
    return p is not None and any((a.pyramid, a.leg) == key for a in p.allocations)


def wanted_tp_price(d: Draft, leg: Leg) -> Decimal:
    return leg_tp_price(d.ctx.rules, d.s.side, leg.fill_vwap, leg.tp_percent)


def sync_tp(d: Draft, key: tuple[int, int]) -> None:
    """Bring the leg's TP order in line with its lot (place, replace, or wait)."""
    if not tp_enabled(d) or d.closing or in_partial_close(d, key):
        return
    leg = d.leg(key)
    if leg.tp_state in ("hit", "external_cancel") or leg.tp_blocked or leg.filled_qty == 0:
        return
    price = wanted_tp_price(d, leg)
    current = d.orders_of("t", key)
    if current:
        o = current[0]
        if o.state != "open" or o.cancel != "none":
            return  # acknowledgement or a cancel in flight: coalesce into one later replacement
        if o.qty - o.filled_qty != leg.open_qty or o.price != price:
            d.cancel(o)
        return
    if leg.open_qty <= 0 or not tp_order_valid(d.ctx.rules, leg.open_qty, price):
        return  # nothing held, or too small for a valid TP yet: wait for more fills
    ref = OrderRef(pyramid=key[0], leg=key[1], purpose=Purpose.TAKE_PROFIT, attempt=leg.tp_attempt)
    if d.place(ref, side=exit_side(d), type="limit", qty=leg.open_qty, price=price, closing=True):
        d.put_leg(leg, tp_attempt=leg.tp_attempt + 1, tp_state="placed", tp_price=price)


def sync_all(d: Draft) -> None:
    for key in list(d.legs):
        sync_tp(d, key)


def _mark_hit(d: Draft, key: tuple[int, int]) -> None:
    """The lot is closed by its own TP: final, the rest of its entry order is not kept."""
    d.put_leg(d.leg(key), tp_state="hit")
    for o in d.orders_of("e", key) + d.orders_of("t", key):
        if o.filled_qty < o.qty:
            d.cancel(o)


def on_tp_trade(d: Draft, t: TradeFilled) -> None:
    key = (t.ref.pyramid, t.ref.leg)
    d.count_fill(t.ref, t.qty)
    realized = book_exit(d, t, [(key, t.qty)])
    hit = d.leg(key).open_qty == 0
    d.event(TpFilled(pyramid=key[0], leg=key[1], trade_id=t.trade_id, qty=t.qty, price=t.price,
                     realized=realized, hit=hit))
    if hit:
        _mark_hit(d, key)


def on_tp_end(d: Draft, msg: OrderEnded) -> None:
    rec = d.orders.pop(msg.ref, None)
    key = (msg.ref.pyramid, msg.ref.leg)
    leg = d.leg(key)
    if msg.status == "filled":
        if leg.open_qty > 0:
            d.put_leg(leg, tp_state="none")
            if leg.entry_state in ("filled", "cancelled", "failed"):
                small_lot_at_entry_end(d, key)  # no fill can come to make the rest sellable
            sync_tp(d, key)  # the lot grew while this TP rested: cover the rest
        return
    if leg.tp_state == "hit":
        return
    if msg.status == "canceled" and (rec is None or rec.cancel == "none"):
        d.put_leg(leg, tp_state="external_cancel")  # respected: not re-placed (SPEC 9.1)
        d.event(TpProblem(pyramid=key[0], leg=key[1], problem="external_cancel"))
        return
    if msg.status == "canceled":
        stays_cancelled = d.closing or in_partial_close(d, key) or leg.open_qty == 0
        d.put_leg(leg, tp_state="cancelled" if stays_cancelled else "none")
        sync_tp(d, key)
        return
    d.put_leg(leg, tp_state="none", tp_blocked=True)
    d.event(TpProblem(pyramid=key[0], leg=key[1], problem=msg.status))


def on_tp_rejected(d: Draft, ref: OrderRef, reason: str) -> None:
    d.orders.pop(ref, None)
    key = (ref.pyramid, ref.leg)
    d.put_leg(d.leg(key), tp_state="none", tp_blocked=True)
    d.event(TpProblem(pyramid=key[0], leg=key[1], problem="rejected", reason=reason))


def small_lot_at_entry_end(d: Draft, key: tuple[int, int]) -> None:
    """The entry ended with a lot too small for a TP: dust in leg mode (SPEC 4.2); in hybrid
    and aggregate modes it stays open for the aggregate target or a full close."""
    leg = d.leg(key)
    if d.s.config.tp_mode != "leg" or leg.open_qty <= 0 or d.orders_of("t", key):
        return
    if tp_order_valid(d.ctx.rules, leg.open_qty, wanted_tp_price(d, leg)):
        return
    d.event(LotToDust(pyramid=key[0], leg=key[1], qty=leg.open_qty))
    d.put_leg(leg, dust_qty=leg.dust_qty + leg.open_qty, open_qty=Decimal(0),
              closed_otherwise=True)
