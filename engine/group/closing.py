"""The full close procedure (SPEC 4.7) as a state machine over messages.

cancelling: every open order of the group is cancelled; the fills the cancellations report are
booked as they arrive. selling: with nothing in flight, the open lots plus dust (rounded to the
step, capped at the free base balance on spot) are sold in chunks of at most the max quantity,
one order at a time. retry_wait: a closing order failed or filled partly; the remainder is sold
again on the first Tick after ``evaluate_interval``, with a fresh price. closed: flat, the
closing trade is recorded and the slot released.
"""

from decimal import Decimal

from engine.decimals import HUNDRED, ZERO
from engine.group.draft import Draft, replace
from engine.group.lots import dust_cost, lifo_keys
from engine.group.messages import (
    CloseRetry,
    CloseShortfall,
    CloseStarted,
    ClosedTrade,
    GroupClosed,
    GroupFailed,
    Ignored,
    LotToDust,
    LotWrittenOff,
    ReleaseSlot,
)
from engine.group.rules import max_qty, meets_minimums, protected_price, round_qty
from engine.group.state import CLOSE_PURPOSE, ClosePurpose, CloseReason, FullClose, OrderRef


def is_market(d: Draft) -> bool:
    """Closing orders are MARKET, or LIMIT IOC at a protected price under ``reject``."""
    return d.ctx.slippage_action != "reject"


def send_close_order(d: Draft, purpose: ClosePurpose, qty: Decimal,
                     max_slippage_percent: Decimal | None) -> bool:
    """One closing order with the next attempt number for ``purpose`` (SPEC 8.4)."""
    attempt = getattr(d.s.attempts, purpose)
    d.set(attempts=replace(d.s.attempts, **{purpose: attempt + 1}))
    ref = OrderRef(pyramid=None, leg=None, purpose=purpose, attempt=attempt)
    side = "sell" if d.s.side == "long" else "buy"
    if is_market(d):
        return d.place(ref, side=side, type="market", qty=qty, price=None, closing=True)
    limit = (max_slippage_percent if max_slippage_percent is not None
             else d.ctx.engine_max_slippage_percent)
    price = d.ctx.price
    assert price is not None  # callers check: no closing order is decided without a price
    protected = protected_price(d.ctx.rules, side, price, limit, price)
    return d.place(ref, side=side, type="limit", qty=qty, price=protected, tif="IOC", closing=True)


def start_full_close(d: Draft, reason: CloseReason, max_slippage_percent: Decimal | None) -> bool:
    """Step 1-2: status closing with its reason, cancel every open order. First trigger wins."""
    if d.closing:
        d.event(Ignored(what=f"close:{reason}", reason=f"group is {d.s.status}"))
        return False
    d.set(status="closing", close_reason=reason, partial=None, close=FullClose(
        reason=reason, purpose=CLOSE_PURPOSE[reason], max_slippage_percent=max_slippage_percent))
    d.event(CloseStarted(reason=reason))
    for rec in list(d.orders.values()):
        d.cancel(rec, reason)
    return True


def write_off(d: Draft, qty: Decimal) -> None:
    """Remove ``qty`` the account does not hold (newest lots first, then dust) at zero proceeds:
    its cost becomes a realized loss."""
    for from_dust in (False, True):
        for key in lifo_keys(d.legs):
            if qty <= 0:
                return
            leg = d.leg(key)
            have = leg.dust_qty if from_dust else leg.open_qty
            take = min(have, qty)
            if take <= 0:
                continue
            field = "dust_qty" if from_dust else "open_qty"
            d.put_leg(leg, written_off_qty=leg.written_off_qty + take, **{field: have - take})
            if d.s.side == "long":
                d.set(realized_pnl=d.s.realized_pnl - leg.fill_vwap * take)
            d.event(LotWrittenOff(pyramid=key[0], leg=key[1], qty=take))
            qty -= take


def _schedule_retry(d: Draft, reason: str) -> None:
    c = d.s.close
    next_try = d.now + d.ctx.evaluate_interval_ms
    d.set(close=replace(c, phase="retry_wait", next_try_ms=next_try))
    d.event(CloseRetry(remaining=d.open_qty + d.dust_qty, next_try_ms=next_try, reason=reason))


def progress_full_close(d: Draft) -> None:
    """Steps 3-5: once nothing is in flight, sell what is held or finish the close."""
    c = d.s.close
    if c is None or c.phase == "retry_wait" or d.orders:
        return
    if c.phase == "cancelling":
        d.set(close=replace(c, phase="selling"))
    rules, market = d.ctx.rules, is_market(d)
    qty = round_qty(rules, d.open_qty + d.dust_qty, market=market)
    if d.ctx.market_type == "spot" and d.ctx.free_base is not None:
        cap = round_qty(rules, max(d.ctx.free_base, ZERO), market=market)
        if qty > cap:
            d.event(CloseShortfall(wanted=qty, available=cap))
            if c.retries == 0 and not (d.ctx.price is not None
                                       and meets_minimums(rules, cap, d.ctx.price, market=market)):
                # the balance may predate the cancellations: believe a shortfall only on a retry
                _schedule_retry(d, "free base balance below the lots")
                return
            if c.retries > 0:
                write_off(d, qty - cap)
            qty = cap
    price = d.ctx.price
    if qty > 0 and price is None:
        _schedule_retry(d, "no current price")
        return
    if qty > 0 and meets_minimums(rules, qty, price, market=market):
        limit = max_qty(rules, market=market)
        chunk = min(qty, limit) if limit else qty
        if not send_close_order(d, c.purpose, chunk, c.max_slippage_percent):
            _schedule_retry(d, "attempts exhausted")
        return
    # nothing sellable is left: what remains is dust (SPEC 4.7 step 4)
    for key in list(d.legs):
        leg = d.leg(key)
        if leg.open_qty > 0:
            d.event(LotToDust(pyramid=key[0], leg=key[1], qty=leg.open_qty))
            d.put_leg(leg, dust_qty=leg.dust_qty + leg.open_qty, open_qty=ZERO)
    finish_closed(d, c.reason)


def on_full_close_order_end(d: Draft, filled: bool) -> None:
    """A closing order ended: continue with the next chunk, or retry the rest later."""
    c = d.s.close
    if c is None or c.phase != "selling":
        return  # an order that was in flight when the close started
    if not filled:
        _schedule_retry(d, "closing order did not fill completely")


def on_tick(d: Draft) -> None:
    c = d.s.close
    if c is not None and c.phase == "retry_wait" and d.now >= c.next_try_ms:
        d.set(close=replace(c, phase="selling", retries=c.retries + 1))


def finish_closed(d: Draft, reason: CloseReason) -> None:
    """Step 5: flat and nothing open. Dust left behind is booked at zero proceeds (SPEC 4.8)."""
    for key in list(d.legs):
        leg = d.leg(key)
        if leg.filled_qty > 0 and leg.tp_state != "hit":
            d.put_leg(leg, closed_otherwise=True,
                      tp_state="cancelled" if leg.tp_state == "placed" else leg.tp_state)
    view = d.view()
    loss = dust_cost(view)
    realized = d.s.realized_pnl - loss
    d.set(status="closed", close_reason=reason, closed_at_ms=d.now, close=None, partial=None,
          realized_pnl=realized)
    cost = d.s.entry_cost
    record = ClosedTrade(
        group_id=d.s.group_id, exchange=d.s.exchange, symbol=d.s.symbol,
        timeframe=d.s.timeframe, side=d.s.side, opened_at_ms=d.s.created_at_ms,
        closed_at_ms=d.now, pyramids=view.pyramid_count,
        legs_filled=sum(1 for leg in view.legs if leg.filled_qty > 0), entry_cost=cost,
        exit_proceeds=d.s.exit_proceeds, fees=d.s.fees_paid, realized_pnl=realized,
        return_percent=realized / cost * HUNDRED if cost else ZERO, dust_qty=view.dust_qty,
        close_reason=reason,
    )
    d.commands.append(ReleaseSlot(group_id=d.s.group_id, status="closed"))
    d.event(GroupClosed(reason=reason, realized=realized, record=record))


def fail_group(d: Draft) -> None:
    d.set(status="failed", close_reason="creation_failed", closed_at_ms=d.now)
    d.commands.append(ReleaseSlot(group_id=d.s.group_id, status="failed"))
    d.event(GroupFailed(reason="creation_failed"))
