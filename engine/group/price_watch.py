"""Which prices can change a group's decision (SPEC 3.10, 4.3), for the reducer and for market
data: a ``PriceChanged`` is checked only against the stale-ladder triggers and the aggregate
target, so a price strictly between them — the group's quiet band — decides nothing, and market
data need not wake the group for it (1,000 groups × every tick otherwise)."""

from decimal import Decimal

from engine.group.lots import average_entry
from engine.group.rules import aggregate_target, away
from engine.group.state import GridSnapshot, GroupState, Pyramid
from engine.types import MarketRules, Side

Band = tuple[Decimal | None, Decimal | None]  # (low, high), None = unbounded


def ladder_trigger(side: Side, config: GridSnapshot, p: Pyramid) -> Decimal | None:
    """The price at which ``p``'s unfilled ladder is cancelled (the price ran
    ``cancel_dca_beyond_percent`` to the profit side of its reference); None: it cannot be."""
    x = config.cancel_dca_beyond_percent
    if x <= 0 or p.state != "active" or p.ladder_cancelled or p.awaiting_anchor:
        return None
    return away(side, p.reference_price, x)


def reached(side: Side, trigger: Decimal, price: Decimal) -> bool:
    """Whether ``price`` is at or beyond a profit-side trigger (long: at or above)."""
    return price >= trigger if side == "long" else price <= trigger


def aggregate_trigger(state: GroupState, rules: MarketRules) -> Decimal | None:
    """The aggregate take-profit price of the group's open lots; None in per-leg mode or
    with nothing held."""
    if state.config.tp_mode == "leg":
        return None
    avg = average_entry(state)
    return None if avg is None else aggregate_target(rules, state.side, avg,
                                                     state.config.tp_percent)


def quiet_band(state: GroupState, rules: MarketRules) -> Band | None:
    """Prices strictly inside the band decide nothing; None: every price may matter (a close
    or a partial close in progress — kept simple where it is rare)."""
    if state.status in ("closed", "failed"):
        return (None, None)
    if state.status == "closing" or state.close is not None or state.partial is not None:
        return None
    triggers = [t for t in (ladder_trigger(state.side, state.config, p) for p in state.pyramids)
                if t is not None]
    aggregate = aggregate_trigger(state, rules)
    if aggregate is not None:
        triggers.append(aggregate)
    if not triggers:
        return (None, None)
    # both triggers sit on the profit side: long groups act at or above, shorts at or below
    return (None, min(triggers)) if state.side == "long" else (max(triggers), None)


def too_old(received_ms: int | None, now_ms: int, max_age_ms: int | None) -> bool:
    """A price older than the feed's stale limit may no longer be the market's: the aggregate
    target (aggregate and hybrid modes) waits for a fresh one (paper ``feed = "live"``)."""
    return max_age_ms is not None and received_ms is not None \
        and now_ms - received_ms > max_age_ms


def inside(band: Band | None, price: Decimal) -> bool:
    if band is None:
        return False
    low, high = band
    return (low is None or price > low) and (high is None or price < high)
