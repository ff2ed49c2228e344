"""The offset plan of SPEC 7.5 (A16, A54, A55, A57, A85; D4, D4b, D9, D20, D21).

``required_usd = |loss| + fees_est + slippage_est``; the costs depend on the plan's close notional,
so the plan is recomputed until ``required_usd`` stops growing (at most three re-plans).
Partial winner quantities are rounded UP to the step (the deliberate exception of SPEC 5.2), so a
sufficient plan never ends a fraction of a cent short.
"""

from collections.abc import Sequence
from decimal import Decimal

from engine.decimals import HUNDRED, ZERO, cents, round_up
from engine.errors import InvalidInput
from engine.risk.model import (
    DEFAULT_TAKER_FEE_RATE,
    NoAction,
    OffsetPlan,
    PlanStep,
    RiskGroupView,
    RiskSettings,
    SkippedWinner,
)

MAX_REPLANS = 3


def unit_profit(g: RiskGroupView) -> Decimal:
    """USD per unit closed at the current price: ``P − avg`` long, ``avg − P`` short."""
    return g.price - g.avg_entry if g.side == "long" else g.avg_entry - g.price


def _is_dust(g: RiskGroupView, remainder: Decimal) -> bool:
    """The whole remaining position would fall below min qty or min notional (4.5 rule 2)."""
    return remainder > 0 and (remainder < g.min_qty or remainder * g.price < g.min_notional)


def _winner_step(
    w: RiskGroupView, remaining: Decimal, settings: RiskSettings
) -> PlanStep | SkippedWinner:
    d = unit_profit(w)
    if d <= 0:
        raise InvalidInput(
            f"winner[{w.id}].avg_entry", f"unrealized_usd {w.unrealized_usd} > 0 but P - avg = {d}"
        )
    if w.step_size <= 0:
        raise InvalidInput(f"winner[{w.id}].step_size", f"must be > 0, got {w.step_size}")
    profit = w.unrealized_usd
    need = min(profit, remaining)
    if not settings.partial_close_enabled or need == profit:
        qty = w.open_qty
    else:
        qty = min(w.open_qty, round_up(need / d, w.step_size))
    raised = False
    floor = max(settings.min_close_notional, w.min_notional)
    if qty * w.price < floor or qty < w.min_qty:
        qty = max(round_up(floor / w.price, w.step_size), w.min_qty)
        raised = True
        if qty > w.open_qty:
            return SkippedWinner(
                group_id=w.id, reason="below_minimum", needed_qty=qty, open_qty=w.open_qty
            )
    if _is_dust(w, w.open_qty - qty):
        qty = w.open_qty
    return PlanStep(
        group_id=w.id,
        symbol=w.symbol,
        qty=qty,
        price=w.price,
        notional=qty * w.price,
        estimated_usd=d * qty,
        full=qty == w.open_qty,
        raised=raised,
    )


def _plan_once(
    required: Decimal, winners: Sequence[RiskGroupView], settings: RiskSettings
) -> tuple[list[PlanStep], list[SkippedWinner], Decimal]:
    remaining = required
    steps: list[PlanStep] = []
    skipped: list[SkippedWinner] = []
    for w in winners:
        if len(steps) == settings.max_winners_to_combine or remaining <= 0:
            break
        outcome = _winner_step(w, remaining, settings)
        if isinstance(outcome, SkippedWinner):
            skipped.append(outcome)  # a skipped winner does not count toward the limit
            continue
        steps.append(outcome)
        remaining -= outcome.estimated_usd
    return steps, skipped, remaining


def plan_offsets(
    loser: RiskGroupView,
    winners: Sequence[RiskGroupView],
    settings: RiskSettings,
    *,
    taker_fee_rate: Decimal | None = None,
) -> OffsetPlan | NoAction:
    """Plan the offset of ``loser`` by the ranked ``winners`` (all on current prices)."""
    if settings.max_winners_to_combine < 1:
        n = settings.max_winners_to_combine
        raise InvalidInput("risk_engine.max_winners_to_combine", f"must be >= 1, got {n}")
    rate = DEFAULT_TAKER_FEE_RATE if taker_fee_rate is None else taker_fee_rate
    if rate < 0:
        raise InvalidInput("taker_fee_rate", f"must be >= 0, got {rate}")
    slip_rate = settings.offset_slippage_percent / HUNDRED
    loss = abs(loser.unrealized_usd)
    loser_notional = loser.open_qty * loser.price

    required, fees, slip, passes = loss, ZERO, ZERO, 0
    steps, skipped, remaining = _plan_once(required, winners, settings)
    while remaining <= 0 and passes < MAX_REPLANS:
        closed = loser_notional + sum((s.notional for s in steps), ZERO)
        new_fees, new_slip = rate * closed, slip_rate * closed
        if loss + new_fees + new_slip <= required:
            break
        fees, slip = new_fees, new_slip
        required = loss + fees + slip
        steps, skipped, remaining = _plan_once(required, winners, settings)
        passes += 1

    covered = sum((s.estimated_usd for s in steps), ZERO)
    if remaining > 0:
        return NoAction(
            loser_id=loser.id,
            reason="insufficient_offsets",
            required_usd=required,
            available_usd=covered,
            steps=tuple(steps),
            skipped=tuple(skipped),
        )
    return OffsetPlan(
        loser_id=loser.id,
        loss_percent=cents(loser.unrealized_percent),
        loss_usd=loser.unrealized_usd,
        loser_qty=loser.open_qty,
        loser_notional=loser_notional,
        required_usd=required,
        fees_est=fees,
        slippage_est=slip,
        steps=tuple(steps),
        skipped=tuple(skipped),
        covered_usd=covered,
        passes=passes,
    )
