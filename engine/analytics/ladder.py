"""Ladder-tuning facts (pure): which lots an exit trade closed, and what each leg of a closed
trade did — filled or not, how long it took, what its lot realized.

A closing trade realizes ``(exit − lot fill) × qty`` per lot it takes, less its fee. The lots
it took are read off the group's state before and after the trade (their ``sold_qty`` grows):
the same attribution the reducer made, without repeating its rules. The trade's fee is shared
between its lots by quantity. A leg's realized PnL is its lot's exits plus its entry fees
(negative); write-offs and dust left at a close are not a leg's (they stay in the trade's
total only).
"""

from collections.abc import Iterable, Sequence
from decimal import Decimal

import msgspec

from engine.analytics.definitions import LegFact
from engine.decimals import ZERO
from engine.group.lots import per_unit
from engine.group.state import GroupState
from engine.orders import Purpose


class LotExit(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Part of a closing trade attributed to one lot: ``gross`` = (exit − fill) × qty."""

    pyramid: int
    leg: int
    qty: Decimal
    gross: Decimal


def lot_exits(before: GroupState, after: GroupState, price: Decimal) -> tuple[LotExit, ...]:
    """The lots a closing trade at ``price`` took between the two states."""
    old = {leg.key: leg for leg in before.legs}
    out = []
    for leg in after.legs:
        prev = old.get(leg.key)
        if prev is None:
            continue
        sold = leg.sold_qty - prev.sold_qty
        if sold > 0:
            out.append(LotExit(pyramid=leg.pyramid, leg=leg.index, qty=sold,
                               gross=per_unit(after.side, price, prev.fill_vwap) * sold))
    return tuple(out)


class FillFact(msgspec.Struct, frozen=True, kw_only=True):
    """One fill of a group as the ladder needs it: an entry of (pyramid, leg), or an exit with
    the lots it took. ``realized``: what the fill booked (net of its fee)."""

    purpose: str
    pyramid: int | None
    leg: int | None
    realized: Decimal
    lots: tuple[LotExit, ...] = ()


def leg_realized(fills: Iterable[FillFact]) -> dict[tuple[int, int], Decimal]:
    """Realized PnL per lot (pyramid, leg): entry fees, then each exit's gross less its share
    of that exit's fee (by quantity)."""
    out: dict[tuple[int, int], Decimal] = {}
    for f in fills:
        if f.purpose == Purpose.ENTRY:
            if f.pyramid is not None and f.leg is not None:
                key = (f.pyramid, f.leg)
                out[key] = out.get(key, ZERO) + f.realized
            continue
        qty = sum((lot.qty for lot in f.lots), ZERO)
        if qty == 0:
            continue
        fee = sum((lot.gross for lot in f.lots), ZERO) - f.realized
        for lot in f.lots:
            key = (lot.pyramid, lot.leg)
            out[key] = out.get(key, ZERO) + lot.gross - fee * lot.qty / qty
    return out


def leg_facts(state: GroupState, fills: Sequence[FillFact]) -> tuple[LegFact, ...]:
    """Every leg of a closed group: filled or not, time from its pyramid's signal reception to
    its last entry fill, and its lot's realized PnL."""
    received = {p.index: p.received_at_ms for p in state.pyramids}
    realized = leg_realized(fills)
    out = []
    for leg in state.legs:
        filled = leg.filled_qty > 0
        start = received.get(leg.pyramid)
        fill_ms = (leg.last_fill_ms - start if filled and leg.last_fill_ms is not None
                   and start is not None else None)
        out.append(LegFact(index=leg.index, filled=filled,
                           fill_ms=None if fill_ms is None else max(fill_ms, 0),
                           realized=realized.get(leg.key, ZERO)))
    return tuple(out)
