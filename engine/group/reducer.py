"""The group reducer: ``decide(state, msg, now_ms, ctx) -> Step`` — pure, one message at a time.

Every message is applied through a Draft, then ``_settle`` advances the close procedures, runs
the end-of-life checks, re-derives the status and the risk timer. The actor records the events
of the Step before it performs its commands.
"""

from decimal import Decimal

from engine.decimals import ZERO
from engine.errors import InvalidInput
from engine.group import closing, entries, partial, status, tp
from engine.group.draft import Draft, replace
from engine.group.messages import (
    AddPyramid,
    AggregateTargetHit,
    CloseFilled,
    CloseGroup,
    GroupInput,
    Ignored,
    LotWrittenOff,
    OrderAccepted,
    OrderEnded,
    OrderRejected,
    PriceChanged,
    PyramidIgnored,
    PyramidPlan,
    Reduce,
    RiskClose,
    RiskCloseOutcome,
    Step,
    Tick,
    TradeFilled,
    WriteOffLot,
)
from engine.group.lots import book_exit
from engine.group.price_watch import aggregate_trigger, too_old
from engine.group.state import GridSnapshot, GroupContext, GroupState, OrderRef
from engine.orders import INDEXES, Purpose
from engine.types import Side


def open_group(*, group_id: int, exchange: str, symbol: str, timeframe: int, side: Side,
               config: GridSnapshot, plan: PyramidPlan, now_ms: int, ctx: GroupContext) -> Step:
    """A new group with pyramid 0 (its legs already planned and validated by the caller)."""
    if plan.index != 0:
        raise InvalidInput("plan.index", f"the first pyramid is index 0, got {plan.index}")
    if side not in ("long", "short"):
        raise InvalidInput("side", f"must be long or short, got {side!r}")
    state = GroupState(group_id=group_id, exchange=exchange, symbol=symbol, timeframe=timeframe,
                       side=side, created_at_ms=now_ms, config=config)
    d = Draft(state, now_ms, ctx)
    entries.place_pyramid(d, plan)
    _settle(d, "live")
    return d.freeze()


def next_pyramid_index(state: GroupState) -> int:
    """The index the next pyramid must be planned with (rolled-back indexes are not reused:
    their client order ids exist already)."""
    return len(state.pyramids)


def wants_order(state: GroupState, ref: OrderRef) -> bool:
    """Reconciliation (SPEC 8.5): does the group still want this never-acknowledged order sent
    as it is? False when it ended or a cancel was asked for it meanwhile."""
    rec = next((o for o in state.orders if o.ref == ref), None)
    return rec is not None and rec.cancel == "none"


def decide(state: GroupState, msg: GroupInput, now_ms: int, ctx: GroupContext) -> Step:
    if isinstance(msg, PriceChanged):
        if msg.price <= 0:
            raise InvalidInput("price", f"must be > 0, got {msg.price}")
        ctx = replace(ctx, price=msg.price)
    d = Draft(state, now_ms, ctx)
    before = state.status
    if state.status in ("closed", "failed"):
        _after_end(d, msg)
    else:
        _apply(d, msg)
    _settle(d, before)
    return d.freeze()


def _apply(d: Draft, msg: GroupInput) -> None:
    match msg:
        case TradeFilled():
            _trade(d, msg)
        case OrderEnded():
            _order_end(d, msg)
        case OrderAccepted():
            _accepted(d, msg.ref)
        case OrderRejected():
            _rejected(d, msg)
        case PriceChanged():
            entries.cancel_stale_ladders(d, msg.price)
            if not too_old(msg.received_ms, d.now, d.ctx.price_max_age_ms):
                _check_aggregate(d, msg.price)
        case Tick():
            _tick(d)
        case AddPyramid():
            _add_pyramid(d, msg.plan)
        case CloseGroup():
            closing.start_full_close(d, msg.reason, msg.max_slippage_percent)
        case Reduce():
            _reduce(d, msg)
        case RiskClose():
            _risk_close(d, msg)
        case WriteOffLot():
            _write_off(d, msg)
        case _:
            raise InvalidInput("msg", f"not a group input: {type(msg).__name__}")


def _after_end(d: Draft, msg: GroupInput) -> None:
    """A Closed/Failed group still books late trades (they are real) but decides nothing."""
    if isinstance(msg, TradeFilled):
        _trade(d, msg)
    elif isinstance(msg, RiskClose):
        d.event(RiskCloseOutcome(request_id=msg.request_id, accepted=False,
                                 reason=f"group is {d.s.status}"))
    else:
        d.event(Ignored(what=type(msg).__name__, reason=f"group is {d.s.status}"))


def _leg_of(d: Draft, ref: OrderRef) -> None:
    if ref.purpose in (Purpose.ENTRY, Purpose.TAKE_PROFIT) and (ref.pyramid, ref.leg) not in d.legs:
        raise InvalidInput("ref", f"no leg P{ref.pyramid}-DCA{ref.leg} in group {d.s.group_id}")


def _trade(d: Draft, t: TradeFilled) -> None:
    if t.qty <= 0:
        raise InvalidInput("qty", f"must be > 0, got {t.qty}")
    if t.price <= 0:
        raise InvalidInput("price", f"must be > 0, got {t.price}")
    _leg_of(d, t.ref)
    if t.trade_id in d.s.seen_trade_ids:
        d.event(Ignored(what=f"trade {t.trade_id}", reason="already booked"))
        return
    d.set(seen_trade_ids=d.s.seen_trade_ids | {t.trade_id})
    if t.ref.purpose == Purpose.ENTRY:
        entries.on_entry_trade(d, t)
    elif t.ref.purpose == Purpose.TAKE_PROFIT:
        tp.on_tp_trade(d, t)
    elif d.s.partial is not None and d.s.partial.purpose == t.ref.purpose and t.ref in d.orders:
        d.count_fill(t.ref, t.qty)
        partial.on_partial_trade(d, t)
    else:
        d.count_fill(t.ref, t.qty)
        realized = book_exit(d, t, [])
        d.event(CloseFilled(purpose=t.ref.purpose, trade_id=t.trade_id, qty=t.qty,
                            price=t.price, realized=realized))


def _order_end(d: Draft, msg: OrderEnded) -> None:
    _leg_of(d, msg.ref)
    if msg.ref not in d.orders:
        # Already ended (or refused): a late or duplicate report — the gateway, the stream, a
        # catch-up and a restart's reconciliation can each report the same end once.
        return
    if msg.ref.purpose == Purpose.ENTRY:
        entries.on_entry_end(d, msg)
    elif msg.ref.purpose == Purpose.TAKE_PROFIT:
        tp.on_tp_end(d, msg)
    else:
        rec = d.orders.pop(msg.ref, None)
        full = rec is not None and msg.status == "filled" and rec.filled_qty >= rec.qty
        if d.s.partial is not None and rec is not None:
            partial.on_partial_order_end(d)
        elif d.s.close is not None:
            closing.on_full_close_order_end(d, full)


def _accepted(d: Draft, ref: OrderRef) -> None:
    _leg_of(d, ref)
    rec = d.orders.get(ref)
    if rec is None or rec.state == "open":
        return  # late (the order already ended) or a repeat (the response and the stream)
    wanted = rec.cancel == "wanted"
    d.orders[ref] = replace(rec, state="open", cancel="none")
    if wanted:
        d.cancel(d.orders[ref])
    if ref.purpose == Purpose.ENTRY:
        entries.on_entry_accepted(d, ref)
    elif ref.purpose == Purpose.TAKE_PROFIT:
        tp.sync_tp(d, (ref.pyramid, ref.leg))


def _rejected(d: Draft, msg: OrderRejected) -> None:
    _leg_of(d, msg.ref)
    rec = d.orders.get(msg.ref)
    if rec is None:
        return
    if msg.retryable and rec.cancel == "none":
        d.orders[msg.ref] = replace(rec, state="retry")  # resent with the same id on Tick
        return
    if msg.ref.purpose == Purpose.ENTRY:
        entries.on_entry_rejected(d, msg.ref, msg.reason)
    elif msg.ref.purpose == Purpose.TAKE_PROFIT:
        tp.on_tp_rejected(d, msg.ref, msg.reason)
    else:
        _order_end(d, OrderEnded(ref=msg.ref, status="rejected"))


def _tick(d: Draft) -> None:
    for rec in list(d.orders.values()):
        if rec.state == "retry" and rec.cancel == "none" \
                and d.now >= rec.placed_at_ms + d.ctx.evaluate_interval_ms:
            gtc = rec.type == "limit" and rec.time_in_force == "GTC"
            d.resend(rec, entries.stale_bound(d, rec.ref) if gtc else None)
    closing.on_tick(d)


def _check_aggregate(d: Draft, price: Decimal) -> None:
    """SPEC 4.3: the aggregate target fires on the current price; first trigger wins."""
    if d.s.config.tp_mode == "leg" or d.closing:
        return
    target = aggregate_trigger(d.view(), d.ctx.rules)
    if target is None:
        return
    if (price >= target) if d.s.side == "long" else (price <= target):
        d.event(AggregateTargetHit(target=target, price=price))
        closing.start_full_close(d, "aggregate_tp", None)


def _add_pyramid(d: Draft, plan: PyramidPlan) -> None:
    if d.closing:
        d.event(PyramidIgnored(reason="group_closing"))
        return
    if d.view().pyramid_count >= d.s.config.max_pyramids:
        d.event(PyramidIgnored(reason="max_pyramids"))
        status.reset_timer_on_replacement(d)
        return
    expected = next_pyramid_index(d.s)
    if expected >= INDEXES:
        d.event(PyramidIgnored(reason="index_exhausted"))
        return
    if plan.index != expected:
        raise InvalidInput("plan.index", f"the next pyramid is index {expected}, got {plan.index}")
    entries.place_pyramid(d, plan)


def _reduce_qty(d: Draft, msg: Reduce, price: Decimal) -> Decimal | None:
    """Q of SPEC 4.5 in order units, before rounding; None when it cannot be computed."""
    if msg.order_size is not None and msg.order_size > 0:
        q = msg.order_size / price if msg.position_size_type == "quote" else msg.order_size
        if d.ctx.market_type == "futures" and msg.position_size_type != "contracts":
            q = q / d.ctx.rules.contract_size
        return q
    if msg.prev_market_position_size == 0:
        return None
    return d.open_qty * (1 - msg.market_position_size / msg.prev_market_position_size)


def _reduce(d: Draft, msg: Reduce) -> None:
    price = d.ctx.price
    if d.closing or d.s.partial is not None or price is None or d.open_qty == 0:
        why = ("group is closing" if d.closing else "partial close in progress"
               if d.s.partial is not None else "no current price" if price is None
               else "nothing open")
        d.event(Ignored(what="reduce", reason=why))
        return
    q = _reduce_qty(d, msg, price)
    if q is None or q <= 0:
        d.event(Ignored(what="reduce", reason="reduce without size"))
        return
    kind, allocs, q = partial.plan_partial(d, q, price)
    if kind == "full":
        closing.start_full_close(d, "reduce_full", msg.max_slippage_percent)
    elif kind == "skip":
        d.event(Ignored(what="reduce", reason=f"Q {q} below min qty or min notional"))
    else:
        partial.start_partial(d, "d", q, allocs, msg.max_slippage_percent, None)


def _risk_close(d: Draft, msg: RiskClose) -> None:
    def answer(accepted: bool, full: bool = False, qty: Decimal = ZERO, reason: str = "") -> None:
        d.event(RiskCloseOutcome(request_id=msg.request_id, accepted=accepted, full=full,
                                 qty=qty, reason=reason))

    held = d.open_qty + d.dust_qty
    if d.closing:
        return answer(False, reason=f"group is {d.s.status}")
    if msg.role == "loser" or msg.qty is None:
        reason = "risk_loser" if msg.role == "loser" else "risk_winner_full"
        closing.start_full_close(d, reason, None)
        return answer(True, full=True, qty=held)
    if msg.qty <= 0:
        raise InvalidInput("qty", f"must be > 0, got {msg.qty}")
    if d.s.partial is not None or d.ctx.price is None or d.open_qty == 0:
        why = ("partial close in progress" if d.s.partial is not None
               else "no current price" if d.ctx.price is None else "nothing open")
        return answer(False, reason=why)
    kind, allocs, q = partial.plan_partial(d, msg.qty, d.ctx.price)
    if kind == "full":
        closing.start_full_close(d, "risk_winner_full", None)
        return answer(True, full=True, qty=held, reason="remainder would be below minimums"
                      if msg.qty < d.open_qty else "")
    if kind == "skip":
        return answer(False, qty=q, reason="below min qty or min notional")
    partial.start_partial(d, "r", q, allocs, None, msg.request_id)
    total = sum((a.qty for a in allocs), ZERO)
    answer(True, qty=total, reason="" if total == msg.qty else "quantity adjusted to the lots")


def _write_off(d: Draft, msg: WriteOffLot) -> None:
    key = (msg.pyramid, msg.leg)
    if key not in d.legs:
        raise InvalidInput("leg", f"no leg P{msg.pyramid}-DCA{msg.leg}")
    leg = d.leg(key)
    take = min(msg.qty, leg.open_qty)
    if take <= 0:
        return
    d.put_leg(leg, open_qty=leg.open_qty - take, written_off_qty=leg.written_off_qty + take)
    if d.s.side == "long":
        d.set(realized_pnl=d.s.realized_pnl - leg.fill_vwap * take)
    d.event(LotWrittenOff(pyramid=msg.pyramid, leg=msg.leg, qty=take))
    tp.sync_tp(d, key)  # the TP must not ask for more than the lot holds


def _settle(d: Draft, before: str) -> None:
    for rec in list(d.orders.values()):
        if rec.state == "retry" and rec.cancel == "requested":
            _order_end(d, OrderEnded(ref=rec.ref, status="canceled"))
    if d.s.close is not None:
        closing.progress_full_close(d)
    elif d.s.partial is not None:
        partial.progress_partial(d)
        if d.s.close is not None:
            closing.progress_full_close(d)
    if d.s.status not in ("closing", "closed", "failed"):
        status.check_failed(d)
        status.check_done(d)
    status.refresh_status(d, before)
    status.update_timer(d)
