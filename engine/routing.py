"""Where an entry signal goes: one decision over the facts the pool gathers, no I/O.

The pool (actors/pool/router.py) collects the facts — the group the signal's key maps to, the
pool's usage, the market rules resolved for the symbol, the latest price — and performs whatever
this returns. The checks run in a fixed order; the first that applies decides:

1. the key's group failed earlier in this run            -> Refuse
2. a live group of the opposite side                     -> Enqueue("opposite_side")
3. the group is closing                                  -> Enqueue("group_closing")
4. the engine is paused                                  -> Enqueue("engine_paused")
5. same or earlier candle than the group's latest entry  -> Duplicate (not for promotions)
6. no market rules: unknown symbol                       -> Refuse; else Enqueue("precision_missing")
7. the group holds its maximum of pyramids               -> Ignore (a replacement still goes)
8. every pyramid index is used (rolled-back ones count)  -> Ignore
9. the ladder cannot be placed (filters, no size)        -> Refuse with the planner's problems
10. the pool has no room (unless forced)                 -> Enqueue("pool_full")
11. otherwise                                            -> Pyramid into the group, or Open one
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import ClassVar, Literal

import msgspec

from engine.grid_settings import GridSettings, ladder_for_pyramid
from engine.group.messages import PlannedLeg, PyramidPlan
from engine.ladder import NO_SIZE, PlanRejected, plan_pyramid, pyramid_notional, reference_price
from engine.ladder import PyramidPlan as LadderPlan
from engine.order_size import describe_rejection, smallest_order_size
from engine.orders import INDEXES as PYRAMID_INDEXES
from engine.pool import fits, slots_needed
from engine.precision import MetadataMissing, ResolvedRules
from engine.queue import QueueReason
from engine.signals import Signal, is_stale_or_same_candle
from engine.types import Side

Severity = Literal["info", "warning", "error"]


class GroupFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What routing needs to know about the live group of the signal's key."""

    group_id: int
    side: Side
    closing: bool
    pyramid_count: int
    max_pyramids: int  # the group's own snapshot, not today's configuration
    next_index: int  # rolled-back pyramids keep their index
    latest_signal_ts: int | None  # the newest accepted entry, one still undecided included
    open_orders: int


class PoolFacts(msgspec.Struct, frozen=True, kw_only=True):
    used: int
    max_open_groups: int
    count_pyramids_toward_pool: bool
    count_dca_toward_pool: bool


class EntryFacts(msgspec.Struct, frozen=True, kw_only=True):
    signal: Signal
    grid: GridSettings  # the group's snapshot when it lives, else today's for the key
    group: GroupFacts | None
    pool: PoolFacts
    rules: ResolvedRules | MetadataMissing
    symbol_unknown: bool  # the exchange lists symbols and this one is not among them
    exchange: str
    current_price: Decimal | None
    key_failed: bool = False
    paused: bool = False
    promoted: bool = False  # a queue promotion: its candle was checked when it arrived
    forced: bool = False  # an operator's force-add ignores the pool limit


# ``rules_used``: the decision got as far as the market rules, so a warning that came with them
# (a fallback to cached or configured rules) is worth logging.


class Refuse(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    text: str
    severity: Severity
    problems: tuple = ()  # the ladder planner's problems, when the ladder was refused
    rules_used: bool = False
    # the smallest tv.order_size whose ladder passes (None: no size would, or not a ladder)
    minimum_order_size: Decimal | None = None


class Duplicate(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    text: str = "duplicate entry signal"
    rules_used: ClassVar[bool] = False


class Enqueue(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    reason: QueueReason
    grid: GridSettings
    rules_used: bool = False


class Ignore(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The group cannot take a pyramid; it is still told (a replacement may reset its timer)."""

    text: str
    severity: Severity
    rules_used: ClassVar[bool] = True


class Pyramid(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    plan: PyramidPlan
    group_id: int
    rules_used: ClassVar[bool] = True


class Open(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    plan: LadderPlan
    grid: GridSettings
    rules_used: ClassVar[bool] = True


Route = Refuse | Duplicate | Enqueue | Ignore | Pyramid | Open


def route_entry(f: EntryFacts) -> Route:
    sig, g, grid = f.signal, f.group, f.grid
    if f.key_failed:
        return Refuse(text=f"refused: the group of {sig.symbol} {sig.timeframe} failed; new "
                      "entries wait for the next start", severity="error")
    if g is not None and g.side != sig.side:
        return Enqueue(reason="opposite_side", grid=grid)
    if g is not None and g.closing:
        return Enqueue(reason="group_closing", grid=grid)
    if f.paused:
        return Enqueue(reason="engine_paused", grid=grid)
    if g is not None and not f.promoted and g.latest_signal_ts is not None \
            and is_stale_or_same_candle(g.latest_signal_ts, sig.timestamp_ms, sig.timeframe):
        return Duplicate(text=duplicate_text(sig, g.latest_signal_ts))
    if isinstance(f.rules, MetadataMissing):
        if f.symbol_unknown:
            return Refuse(text=f"rejected: unknown symbol {sig.symbol} on {f.exchange}",
                          severity="warning")
        return Enqueue(reason="precision_missing", grid=grid)
    if g is not None and g.pyramid_count >= g.max_pyramids:
        return Ignore(text=f"ignored: group {g.group_id} is full ({g.pyramid_count}/"
                      f"{g.max_pyramids} pyramids)", severity="info")
    index = g.next_index if g is not None else 0
    if index >= PYRAMID_INDEXES:
        return Ignore(text=f"ignored: group {g.group_id} has no pyramid index left",
                      severity="warning")
    if index >= grid.max_pyramids_per_group:  # past rolled-back indexes: still a pyramid
        grid = msgspec.structs.replace(grid, max_pyramids_per_group=PYRAMID_INDEXES)
    plan = plan_entry(sig, grid, f.rules, index, f.current_price,
                      open_orders=g.open_orders if g is not None else 0)
    if isinstance(plan, PlanRejected):
        return _refused_ladder(f, plan, grid, index)
    k = slots_needed(new_group=g is None, entry_legs=len(ladder_for_pyramid(grid, index)),
                     count_pyramids_toward_pool=f.pool.count_pyramids_toward_pool,
                     count_dca_toward_pool=f.pool.count_dca_toward_pool)
    if not f.forced and not fits(f.pool.used, k, f.pool.max_open_groups):
        return Enqueue(reason="pool_full", grid=grid, rules_used=True)
    if g is not None:
        return Pyramid(plan=group_plan(plan, sig, grid), group_id=g.group_id)
    return Open(plan=plan, grid=grid)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def duplicate_text(sig: Signal, latest_ms: int) -> str:
    """Why a same-side entry is a duplicate (SPEC 2.6), with both alert times."""
    where = "an earlier" if latest_ms > sig.timestamp_ms else "the same"
    return (f"duplicate entry signal: its time {_iso(sig.timestamp_ms)} falls in {where} "
            f"{sig.timeframe}-minute candle as the group's latest entry "
            f"({_iso(latest_ms)}); a new pyramid needs a later candle")


def _refused_ladder(f: EntryFacts, plan: PlanRejected, grid: GridSettings,
                    index: int) -> Refuse:
    """The planner's refusal with its numbers and the smallest order size that passes."""
    sig, resolved = f.signal, f.rules
    assert isinstance(resolved, ResolvedRules)
    if not plan.problems:  # no size at all (no order_size, no capital per pyramid)
        return Refuse(text=f"rejected: {plan.reason}", severity="warning", rules_used=True)
    ref, _ = entry_notional(sig, grid, f.current_price, resolved.rules.contract_size)
    minimum = smallest_order_size(
        grid, pyramid=index, side=sig.side, reference=ref, rules=resolved.rules,
        current_price=f.current_price, size_type=sig.position_size_type,
        enforce=resolved.enforce, open_orders=f.group.open_orders if f.group else 0)
    why = describe_rejection(plan.problems, rules=resolved.rules, minimum=minimum,
                             size_type=sig.position_size_type)
    return Refuse(text=f"rejected: {why}", severity="warning", problems=tuple(plan.problems),
                  rules_used=True, minimum_order_size=minimum)


def entry_notional(sig: Signal, grid: GridSettings, current_price: Decimal | None,
                   contract_size: Decimal = Decimal(1)) -> tuple[Decimal, Decimal | None]:
    """The reference price and the pyramid's notional, from the signal's order size or else
    the grid's capital per pyramid (None: neither gives a size)."""
    ref = reference_price(sig.entry_price, sig.close_price, current_price)
    return ref, pyramid_notional(
        order_size=sig.order_size, size_type=sig.position_size_type, reference=ref,
        contract_size=contract_size, capital_per_pyramid_usd=grid.capital_per_pyramid_usd)


def plan_entry(sig: Signal, grid: GridSettings, resolved: ResolvedRules, index: int,
               current_price: Decimal | None, open_orders: int = 0) -> LadderPlan | PlanRejected:
    """The ladder of pyramid ``index`` for ``sig`` at its reference price."""
    ref, notional = entry_notional(sig, grid, current_price, resolved.rules.contract_size)
    if notional is None:
        return PlanRejected(reason=NO_SIZE)
    return plan_pyramid(grid, pyramid=index, side=sig.side, reference=ref, notional=notional,
                        rules=resolved.rules, current_price=current_price,
                        enforce=resolved.enforce, open_orders=open_orders)


def group_plan(plan: LadderPlan, sig: Signal, grid: GridSettings) -> PyramidPlan:
    """The ladder planner's result in the reducer's terms (a market DCA0: leg 0 only)."""
    market = grid.entry_order_type == "market"
    legs = tuple(PlannedLeg(index=g.index, gap_percent=g.gap_percent,
                            weight_percent=g.weight_percent, tp_percent=g.tp_percent,
                            price=g.price, qty=g.qty)
                 for g in plan.legs if not market or g.index == 0)
    return PyramidPlan(index=plan.pyramid, reference_price=plan.reference, notional=plan.notional,
                       signal_ts_ms=sig.timestamp_ms, legs=legs,
                       levels=ladder_for_pyramid(grid, plan.pyramid),
                       max_slippage_percent=sig.max_slippage_percent)
