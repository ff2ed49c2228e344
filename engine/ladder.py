"""Pyramid ladders (SPEC 3.3-3.10, 6.3): effective grid settings, sizing and leg planning.

``plan_pyramid`` computes every leg of one pyramid from its reference price and notional and
validates the whole ladder against the market's rules before anything may be sent: the answer is
either a complete ``PyramidPlan`` or a ``PlanRejected`` naming every failed rule (SPEC 3.9).
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

import msgspec

from engine.decimals import HUNDRED, ONE, ZERO, round_down
from engine.errors import InvalidInput
from engine.grid_settings import (  # re-exported: callers plan ladders from this module
    DEFAULT_LEVELS,  # noqa: F401
    EntryOrderType,
    GridSettings,
    effective_grid,  # noqa: F401
    ladder_for_pyramid,
    validate_levels,
)
from engine.precision import (
    ENFORCE_ALL,
    Enforcement,
    PrecisionProblem,
    round_price,
    round_qty,
    validate_ladder,
)
from engine.types import Level, MarketRules, Side

SizeType = Literal["quote", "base", "contracts"]
NO_SIZE = "no size: order_size missing and capital_per_pyramid_usd is 0"


def reference_price(
    entry_price: Decimal | None, close_price: Decimal | None, current_price: Decimal | None
) -> Decimal:
    """B_p (SPEC 3.6): entry price, else close price, else the current price (0 = absent)."""
    for value in (entry_price, close_price, current_price):
        if value is not None and value > 0:
            return value
    raise InvalidInput("reference_price", "no entry price, close price or current price")


def pyramid_notional(
    *,
    order_size: Decimal | None,
    size_type: SizeType,
    reference: Decimal,
    contract_size: Decimal = ONE,
    capital_per_pyramid_usd: Decimal = ZERO,
) -> Decimal | None:
    """N_p in quote currency (SPEC 3.7); None = no size (reject with ``NO_SIZE``).

    ``contracts`` means base quantity on spot, where the contract size is 1, so one formula
    ``order_size × contract_size × B_p`` serves spot and futures.
    """
    if order_size is not None and order_size < 0:
        raise InvalidInput("tv.order_size", f"must be >= 0, got {order_size}")
    if reference <= 0:
        raise InvalidInput("reference_price", f"must be > 0, got {reference}")
    if contract_size <= 0:
        raise InvalidInput("contract_size", f"must be > 0, got {contract_size}")
    if order_size is not None and order_size > 0:
        if size_type == "quote":
            return order_size
        if size_type == "base":
            return order_size * reference
        if size_type == "contracts":
            return order_size * contract_size * reference
        raise InvalidInput("execution_intent.position_size_type", f"unknown: {size_type!r}")
    if capital_per_pyramid_usd > 0:
        return capital_per_pyramid_usd
    return None


class PlannedLeg(msgspec.Struct, frozen=True, kw_only=True):
    """One entry order of a pyramid: rounded price and quantity, and the leg's parameters.
    ``notional`` is what the rounded leg deploys: qty × price × contract size."""

    index: int
    order_type: EntryOrderType
    price: Decimal
    qty: Decimal
    notional: Decimal
    gap_percent: Decimal
    weight_percent: Decimal
    tp_percent: Decimal


class PyramidPlan(msgspec.Struct, frozen=True, kw_only=True):
    pyramid: int
    side: Side
    reference: Decimal
    notional: Decimal
    legs: tuple[PlannedLeg, ...]


class PlanRejected(msgspec.Struct, frozen=True, kw_only=True):
    """The ladder may not be sent (any leg failing rejects the whole signal, SPEC 3.9)."""

    reason: str
    problems: tuple[PrecisionProblem, ...] = ()


def entry_order_side(side: Side) -> Literal["buy", "sell"]:
    return "buy" if side == "long" else "sell"


def leg_price(rules: MarketRules, level: Level, *, side: Side, reference: Decimal,
              enforce: Enforcement = ENFORCE_ALL) -> Decimal:
    """A leg's limit price: the reference moved by its gap (mirrored for a short), on the tick."""
    gap = level.gap_percent / HUNDRED
    factor = ONE + gap if side == "long" else ONE - gap
    return round_price(rules, reference * factor, enforce)


def _leg(
    rules: MarketRules,
    index: int,
    level: Level,
    *,
    order_type: EntryOrderType,
    side: Side,
    reference: Decimal,
    notional: Decimal,
    enforce: Enforcement,
) -> PlannedLeg:
    price = leg_price(rules, level, side=side, reference=reference, enforce=enforce)
    leg_notional = notional * level.weight_percent / HUNDRED
    raw_qty = leg_notional / (price * rules.contract_size) if price > 0 else ZERO
    qty = round_qty(rules, raw_qty, order_type, enforce)
    return PlannedLeg(
        index=index,
        order_type=order_type,
        price=price,
        qty=qty,
        notional=qty * price * rules.contract_size,
        gap_percent=level.gap_percent,
        weight_percent=level.weight_percent,
        tp_percent=level.tp_percent,
    )


def _ladder_problems(
    rules: MarketRules,
    legs: Sequence[PlannedLeg],
    *,
    side: Side,
    current_price: Decimal | None,
    enforce: Enforcement,
    open_orders: int = 0,
) -> list[PrecisionProblem]:
    """Precision problems of the legs; a price that rounds to 0 (reference below one tick)
    is reported as such instead of being checked as an order."""
    zero = [
        PrecisionProblem(rule="min_price", message="price rounds to 0", value=ZERO, leg=leg.index)
        for leg in legs
        if leg.price <= 0
    ]
    priced = [leg for leg in legs if leg.price > 0]
    return zero + validate_ladder(
        rules,
        priced,
        side=entry_order_side(side),
        current_price=current_price,
        enforce=enforce,
        open_orders=open_orders + len(zero),
    )


def _check_inputs(side: str, reference: Decimal, notional: Decimal, rules: MarketRules) -> None:
    if side not in ("long", "short"):
        raise InvalidInput("side", f"must be long or short, got {side!r}")
    if reference <= 0:
        raise InvalidInput("reference_price", f"must be > 0, got {reference}")
    if notional <= 0:
        raise InvalidInput("notional", f"must be > 0, got {notional}")
    if rules.contract_size <= 0:
        raise InvalidInput("contract_size", f"must be > 0, got {rules.contract_size}")


def plan_pyramid(
    settings: GridSettings,
    *,
    pyramid: int,
    side: Side,
    reference: Decimal,
    notional: Decimal,
    rules: MarketRules,
    current_price: Decimal | None,
    enforce: Enforcement = ENFORCE_ALL,
    open_orders: int = 0,
) -> PyramidPlan | PlanRejected:
    """Every leg of pyramid ``pyramid`` (SPEC 3.5), validated as a whole (SPEC 3.9 step 2).

    ``settings`` are the effective settings (``effective_grid``). A short mirrors the gaps
    above the reference. With ``entry_order_type = "market"`` DCA0 is a market order valued at
    ``current_price``; the other legs are re-anchored on its fill with ``reanchor_legs``.
    """
    legs, problems = preview_pyramid(
        settings, pyramid=pyramid, side=side, reference=reference, notional=notional,
        rules=rules, current_price=current_price, enforce=enforce, open_orders=open_orders)
    if problems:
        failed = sorted({p.leg for p in problems if p.leg is not None})
        names = ", ".join(f"DCA{i}" for i in failed) or "ladder"
        rules_hit = ", ".join(sorted({p.rule for p in problems}))
        return PlanRejected(reason=f"{names} failed {rules_hit}", problems=tuple(problems))
    return PyramidPlan(
        pyramid=pyramid, side=side, reference=reference, notional=notional, legs=legs
    )


def preview_pyramid(
    settings: GridSettings,
    *,
    pyramid: int,
    side: Side,
    reference: Decimal,
    notional: Decimal,
    rules: MarketRules,
    current_price: Decimal | None,
    enforce: Enforcement = ENFORCE_ALL,
    open_orders: int = 0,
) -> tuple[tuple[PlannedLeg, ...], list[PrecisionProblem]]:
    """The legs ``plan_pyramid`` computes and every problem it finds in them, without the
    decision: the Settings page shows refused legs too. Raises InvalidInput like it."""
    _check_inputs(side, reference, notional, rules)
    levels = ladder_for_pyramid(settings, pyramid)
    field = "dca_levels"
    if str(pyramid) in settings.pyramid_specific_levels:
        field = f"pyramid_specific_levels.{pyramid}"
    validate_levels(levels, max_dca=settings.max_dca_per_pyramid, field=field)
    market_first = settings.entry_order_type == "market"
    legs = tuple(
        _leg(
            rules,
            i,
            lv,
            order_type="market" if market_first and i == 0 else "limit",
            side=side,
            reference=reference,
            notional=notional,
            enforce=enforce,
        )
        for i, lv in enumerate(levels)
    )
    problems = _ladder_problems(
        rules, legs, side=side, current_price=current_price, enforce=enforce, open_orders=open_orders
    )
    return legs, problems


def reanchor_legs(
    plan: PyramidPlan,
    *,
    fill_vwap: Decimal,
    rules: MarketRules,
    current_price: Decimal | None,
    enforce: Enforcement = ENFORCE_ALL,
) -> tuple[tuple[PlannedLeg, ...], tuple[PrecisionProblem, ...]]:
    """After a market DCA0 filled at ``fill_vwap`` (SPEC 3.9 step 6): the remaining legs as
    limit orders from B_p := fill VWAP. DCA0 cannot be undone, so each failing leg is skipped
    (returned with its problems) instead of rejecting the rest."""
    _check_inputs(plan.side, fill_vwap, plan.notional, rules)
    kept: list[PlannedLeg] = []
    skipped: list[PrecisionProblem] = []
    for old in plan.legs[1:]:
        level = Level(
            gap_percent=old.gap_percent,
            weight_percent=old.weight_percent,
            tp_percent=old.tp_percent,
        )
        leg = _leg(
            rules,
            old.index,
            level,
            order_type="limit",
            side=plan.side,
            reference=fill_vwap,
            notional=plan.notional,
            enforce=enforce,
        )
        problems = _ladder_problems(
            rules, [leg], side=plan.side, current_price=current_price, enforce=enforce
        )
        if problems:
            skipped += problems
        else:
            kept.append(leg)
    return tuple(kept), tuple(skipped)


def _target(price: Decimal, percent: Decimal, side: Side, tick: Decimal, field: str) -> Decimal:
    if price <= 0:
        raise InvalidInput(field, f"must be > 0, got {price}")
    if tick <= 0:
        raise InvalidInput("tick_size", f"must be > 0, got {tick}")
    factor = ONE + percent / HUNDRED if side == "long" else ONE - percent / HUNDRED
    return round_down(price * factor, tick)


def leg_tp_price(fill_vwap: Decimal, tp_percent: Decimal, side: Side, tick: Decimal) -> Decimal:
    """tp_i = round_tick(f × (1 ± t/100)) from the leg's own fill VWAP (SPEC 3.5, V3/V4)."""
    return _target(fill_vwap, tp_percent, side, tick, "fill_vwap")


def aggregate_target(avg: Decimal, tp_percent: Decimal, side: Side, tick: Decimal) -> Decimal:
    """round_tick(avg × (1 ± T/100)) (SPEC 3.5, 4.3)."""
    return _target(avg, tp_percent, side, tick, "average_entry")


def expected_profit(notional: Decimal, levels: Sequence[Level]) -> Decimal:
    """Σ N × w_i/100 × t_i/100 over the ladder (SPEC 6.3, D13)."""
    return sum(
        (notional * lv.weight_percent / HUNDRED * lv.tp_percent / HUNDRED for lv in levels), ZERO
    )


def ladder_is_stale(
    side: Side, reference: Decimal, price: Decimal, beyond_percent: Decimal
) -> bool:
    """SPEC 3.10: price moved more than X % to the profit side of B_p (X = 0: never)."""
    if beyond_percent < 0:
        raise InvalidInput("cancel_dca_beyond_percent", f"must be >= 0, got {beyond_percent}")
    if beyond_percent == 0:
        return False
    if side == "long":
        return price >= reference * (ONE + beyond_percent / HUNDRED)
    return price <= reference * (ONE - beyond_percent / HUNDRED)


def can_add_pyramid(pyramid_count: int, max_pyramids: int) -> bool:
    """SPEC 3.3: accepted only while pyramid_count (including index 0) < max_pyramids."""
    return pyramid_count < max_pyramids
