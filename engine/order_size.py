"""Why a ladder was refused, with its numbers, and the smallest ``tv.order_size`` that passes.

A refused ladder (SPEC 3.9) names its failed legs and rules; ``smallest_order_size`` answers
the user's next question — how big must the order be — by computing, per leg, the quantity its
minimums need and the notional that yields it, then confirming the answer with the planner
itself (``plan_pyramid``): the size returned passes, one unit less (a cent of a dollar quote,
one step of a base size) does not. ``describe_rejection`` puts both into one sentence.
"""

from collections.abc import Sequence
from decimal import Decimal

from engine.decimals import HUNDRED, ZERO, round_up
from engine.display import Display, for_rules, quote_places
from engine.grid_settings import GridSettings, ladder_for_pyramid
from engine.ladder import PlanRejected, SizeType, leg_price, plan_pyramid, pyramid_notional
from engine.precision import ENFORCE_ALL, Enforcement, PrecisionProblem, order_step
from engine.types import MarketRules, Side

# the checks a larger order satisfies; any other failed check (a maximum, a price band, the
# open-order count, a price below one tick) no order size can fix
SIZE_RULES = frozenset({"min_qty", "market_min_qty", "min_notional"})
_SEARCH = 50  # units tried around the estimate: it is exact up to the last Decimal digit


def size_unit(size_type: SizeType, rules: MarketRules) -> Decimal:
    """The increment an order size is stated in: a cent of a dollar quote (the quote asset's
    precision otherwise), or one step of the base quantity / contracts."""
    if size_type == "quote":
        return Decimal(1).scaleb(-quote_places(rules.quote, rules.quote_precision))
    return rules.step_size


def _notional(size: Decimal, size_type: SizeType, reference: Decimal,
              rules: MarketRules) -> Decimal | None:
    return pyramid_notional(order_size=size, size_type=size_type, reference=reference,
                            contract_size=rules.contract_size)


def _estimate(settings: GridSettings, *, pyramid: int, side: Side, reference: Decimal,
              rules: MarketRules, current_price: Decimal | None,
              enforce: Enforcement) -> Decimal | None:
    """The notional at which every leg's rounded quantity reaches its minimums; None when a
    leg can never (no weight, no price)."""
    market_first = settings.entry_order_type == "market"
    cs = rules.contract_size
    needed = ZERO
    for i, level in enumerate(ladder_for_pyramid(settings, pyramid)):
        market = market_first and i == 0
        price = leg_price(rules, level, side=side, reference=reference, enforce=enforce)
        value_price = current_price if market and current_price else price
        if level.weight_percent <= 0 or price <= 0 or value_price <= 0:
            return None
        qty = rules.min_qty
        if market and rules.market_min_qty:
            qty = max(qty, rules.market_min_qty)
        if enforce.min_notional and (not market or rules.min_notional_applies_to_market):
            qty = max(qty, rules.min_notional / (value_price * cs))
        step = order_step(rules, "market" if market else "limit") if enforce.step_size else None
        if step is not None:
            qty = max(round_up(qty, step), step)
        needed = max(needed, qty * price * cs * HUNDRED / level.weight_percent)
    return needed


def smallest_order_size(settings: GridSettings, *, pyramid: int, side: Side,
                        reference: Decimal, rules: MarketRules, current_price: Decimal | None,
                        size_type: SizeType = "quote", enforce: Enforcement = ENFORCE_ALL,
                        open_orders: int = 0) -> Decimal | None:
    """The smallest ``tv.order_size`` (in ``size_type`` units, a multiple of ``size_unit``)
    whose ladder passes every check; None when no size passes."""
    unit = size_unit(size_type, rules)

    def verdict(size: Decimal) -> bool | None:
        """True: passes; False: fails only on minimums; None: fails on something else."""
        notional = _notional(size, size_type, reference, rules) if size > 0 else None
        if notional is None:
            return False
        plan = plan_pyramid(settings, pyramid=pyramid, side=side, reference=reference,
                            notional=notional, rules=rules, current_price=current_price,
                            enforce=enforce, open_orders=open_orders)
        if not isinstance(plan, PlanRejected):
            return True
        return False if all(p.rule in SIZE_RULES for p in plan.problems) else None

    needed = _estimate(settings, pyramid=pyramid, side=side, reference=reference, rules=rules,
                       current_price=current_price, enforce=enforce)
    if needed is None:
        return None
    per_unit = {"quote": Decimal(1), "base": reference,
                "contracts": reference * rules.contract_size}[size_type]
    size = max(round_up(needed / per_unit, unit), unit)
    for _ in range(_SEARCH):  # the estimate's last digit may fall short
        found = verdict(size)
        if found is None:
            return None
        if found:
            break
        size += unit
    else:
        return None
    for _ in range(_SEARCH):  # … or overshoot by one unit
        if size - unit <= 0 or verdict(size - unit) is not True:
            break
        size -= unit
    return size


def problem_text(p: PrecisionProblem, show: Display, quote: str) -> str:
    leg = f"DCA{p.leg}" if p.leg is not None else "the ladder"
    if p.rule == "min_notional" and p.limit is not None:
        return (f"{leg} fails min_notional: it would be {show.usd(p.value)} {quote}, below the "
                f"{show.usd(p.limit)} {quote} minimum (short by {show.usd(p.limit - p.value)})")
    if p.rule in ("min_qty", "market_min_qty") and p.limit is not None:
        return (f"{leg} fails {p.rule}: quantity {show.qty(p.value)} is below the minimum "
                f"{show.qty(p.limit)} (short by {show.qty(p.limit - p.value)})")
    return f"{leg} fails {p.rule}: {p.message}"


def describe_rejection(problems: Sequence[PrecisionProblem], *, rules: MarketRules,
                       minimum: Decimal | None, size_type: SizeType = "quote") -> str:
    """One sentence: every failed check with its numbers, then the order size that passes."""
    show = for_rules(rules)
    quote = rules.quote or "USD"
    parts = "; ".join(problem_text(p, show, quote) for p in problems)
    if minimum is not None:
        unit = quote if size_type == "quote" else (rules.base or "base") + (
            "" if size_type == "base" else " contracts")
        return f"{parts}; an order_size of at least {show.size(minimum, size_type)} {unit} " \
               "would pass"
    if problems and all(p.rule in SIZE_RULES for p in problems):
        return f"{parts}; no order_size passes every leg"
    return f"{parts}; no order_size fixes this (a maximum, the price band or the order count)"
