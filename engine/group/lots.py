"""Lot accounting (SPEC 3.5, 4.8): entry fills, fees, closing attribution, PnL read-outs.

Every filled leg is a lot with its own fill VWAP; every closing trade is attributed to specific
lots and realizes ``(exit − fill) × qty`` per lot (mirror for a short); fees are realized when
charged. A fee in the base asset also shrinks the lot; what falls below the step is dust.
"""

from decimal import Decimal

from engine.decimals import HUNDRED, ZERO
from engine.group.draft import Draft
from engine.group.messages import FeeUnconverted, LegFilled, TradeFilled
from engine.group.rules import round_qty
from engine.group.state import GroupState, Leg
from engine.types import Side


def per_unit(side: Side, exit_price: Decimal, fill_price: Decimal) -> Decimal:
    """Realized PnL of one unit bought (long) or sold (short) at ``fill_price``."""
    return exit_price - fill_price if side == "long" else fill_price - exit_price


def fee_in_quote(d: Draft, fee: Decimal, asset: str, price: Decimal) -> Decimal:
    """The fee valued in the quote currency; unconvertible third-asset fees are reported."""
    rules = d.ctx.rules
    if fee == 0 or asset == rules.quote:
        return fee
    if asset == rules.base:
        return fee * price
    rate = d.ctx.asset_prices.get(asset)
    if rate is None:
        d.event(FeeUnconverted(asset=asset, fee=fee))
        return ZERO
    return fee * rate


def book_entry_fill(d: Draft, key: tuple[int, int], t: TradeFilled) -> Leg:
    leg = d.leg(key)
    fee_q = fee_in_quote(d, t.fee, t.fee_asset, t.price)
    # a long buys the base asset: a base fee is taken out of what it receives (SPEC 9.1)
    base_fee = t.fee if t.fee_asset == d.ctx.rules.base and d.s.side == "long" else ZERO
    filled = leg.filled_qty + t.qty
    cost = leg.fill_cost + t.price * t.qty
    vwap = cost / filled
    holdings = leg.open_qty + leg.dust_qty + t.qty - base_fee
    open_qty = round_qty(d.ctx.rules, holdings) if holdings > 0 else ZERO
    state = "partially_filled" if leg.entry_state in ("pending", "open") else leg.entry_state
    # a fill racing the TP that closed the lot makes a new lot: it needs a TP again
    tp_state = "none" if leg.tp_state == "hit" and open_qty > 0 else leg.tp_state
    leg = d.put_leg(
        leg, filled_qty=filled, fill_vwap=vwap, fill_cost=cost,
        base_fee_qty=leg.base_fee_qty + base_fee,
        open_qty=open_qty, dust_qty=holdings - open_qty, entry_state=state,
        last_fill_ms=t.ts_ms, tp_blocked=False, tp_state=tp_state,
    )
    d.set(
        realized_pnl=d.s.realized_pnl - fee_q, fees_paid=d.s.fees_paid + fee_q,
        entry_cost=d.s.entry_cost + t.price * t.qty,
    )
    d.event(LegFilled(
        pyramid=key[0], leg=key[1], trade_id=t.trade_id, qty=t.qty, price=t.price,
        fee_quote=fee_q, fill_vwap=vwap, open_qty=leg.open_qty, dust_qty=leg.dust_qty,
    ))
    return leg


def lifo_keys(legs: dict[tuple[int, int], Leg]) -> list[tuple[int, int]]:
    """Lots by most recent fill first; ties: higher pyramid, then higher leg (SPEC 4.5)."""
    held = [leg for leg in legs.values() if leg.open_qty > 0 or leg.dust_qty > 0]
    held.sort(key=lambda g: (g.last_fill_ms or 0, g.pyramid, g.index), reverse=True)
    return [g.key for g in held]


def _take(d: Draft, key: tuple[int, int], qty: Decimal, price: Decimal,
          from_dust: bool) -> tuple[Decimal, Decimal]:
    leg = d.leg(key)
    have = leg.dust_qty if from_dust else leg.open_qty
    take = min(have, qty)
    if take <= 0:
        return ZERO, ZERO
    changes = {"dust_qty": have - take} if from_dust else {"open_qty": have - take}
    d.put_leg(leg, sold_qty=leg.sold_qty + take, **changes)
    return take, per_unit(d.s.side, price, leg.fill_vwap) * take


def book_exit(d: Draft, t: TradeFilled, plan: list[tuple[tuple[int, int], Decimal]]) -> Decimal:
    """Attribute a closing trade: first to ``plan`` (lot, at most qty), then newest lots, then
    dust. Books proceeds and fees; returns the realized PnL of this trade (net of its fee)."""
    remaining, gross = t.qty, ZERO
    for key, cap in plan:
        took, pnl = _take(d, key, min(cap, remaining), t.price, from_dust=False)
        remaining, gross = remaining - took, gross + pnl
    for from_dust in (False, True):
        for key in lifo_keys(d.legs):
            if remaining <= 0:
                break
            took, pnl = _take(d, key, remaining, t.price, from_dust)
            remaining, gross = remaining - took, gross + pnl
    fee_q = fee_in_quote(d, t.fee, t.fee_asset, t.price)
    realized = gross - fee_q
    d.set(
        realized_pnl=d.s.realized_pnl + realized, fees_paid=d.s.fees_paid + fee_q,
        exit_proceeds=d.s.exit_proceeds + t.price * t.qty,
    )
    return realized


def dust_cost(state: GroupState) -> Decimal:
    """What the dust left in the account cost: booked as a loss when the group closes without
    selling it (SPEC 4.8). A short's unclosed remainder has no purchase cost to write off."""
    if state.side == "short":
        return ZERO
    return sum((leg.dust_qty * leg.fill_vwap for leg in state.legs), ZERO)


# --- read-outs (SPEC 3.5, V12, V13, D17) -----------------------------------------------------


def lot_cost(leg: Leg) -> Decimal:
    """What the open lot cost: its fills' Σ price × qty, exact while the lot is whole; a lot
    partly sold (or shrunk by a base-asset fee) keeps the share ``open / filled`` of it."""
    if leg.open_qty == 0 or leg.filled_qty == 0:
        return ZERO
    if leg.open_qty == leg.filled_qty:
        return leg.fill_cost
    return leg.fill_cost * leg.open_qty / leg.filled_qty


def open_cost(state: GroupState) -> Decimal:
    """Cost basis of the open lots (dust excluded): Σ of their ``lot_cost``."""
    return sum((lot_cost(leg) for leg in state.legs), ZERO)


def average_entry(state: GroupState) -> Decimal | None:
    """Weighted average fill price of the open lots (dust excluded); None when flat. A value
    to show: PnL is computed from the cost basis, never from this quotient."""
    qty = state.open_qty
    if qty == 0:
        return None
    return open_cost(state) / qty


def pnl_at(side: Side, qty: Decimal, cost: Decimal, price: Decimal) -> Decimal:
    """Unrealized PnL of ``qty`` bought (long) or sold (short) for ``cost`` in total, at
    ``price``: ``qty × P − cost`` long, ``cost − qty × P`` short — exact, no division."""
    value = qty * price
    return value - cost if side == "long" else cost - value


def unrealized(state: GroupState, price: Decimal) -> tuple[Decimal, Decimal]:
    """(USD, percent of the cost basis) of the open lots at ``price``, fees excluded;
    (0, 0) when flat. The USD figure is exact."""
    qty = state.open_qty
    if qty == 0:
        return ZERO, ZERO
    cost = open_cost(state)
    usd = pnl_at(state.side, qty, cost, price)
    return usd, (usd / cost * HUNDRED if cost else ZERO)


def progress_to_tp(side: Side, fill: Decimal, tp: Decimal, price: Decimal) -> Decimal:
    """How far the price went from a lot's fill towards its TP, clamped to 0..100 percent."""
    span = tp - fill
    if span == 0:
        return HUNDRED
    raw = (price - fill) / span * HUNDRED
    return max(ZERO, min(HUNDRED, raw))


def filled_notional(leg: Leg) -> Decimal:
    return leg.filled_qty * leg.fill_vwap
