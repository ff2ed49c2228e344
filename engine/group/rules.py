"""Market-rule arithmetic the reducer needs: rounding, TP prices, minimums, protected prices.

Rounding and TP targets come from engine.precision / engine.ladder; the ladder planner owns
whole-ladder validation (SPEC 3.9 step 2), this only re-checks single orders the reducer makes.
"""

from decimal import Decimal

from engine import ladder, precision
from engine.decimals import HUNDRED, ONE, round_down, round_up
from engine.types import Level, MarketRules, Side


def round_price(rules: MarketRules, price: Decimal) -> Decimal:
    return precision.round_price(rules, price)


def round_qty(rules: MarketRules, qty: Decimal, *, market: bool = False) -> Decimal:
    """Down to the step; a MARKET quantity respects LOT_SIZE and MARKET_LOT_SIZE both."""
    return precision.round_qty(rules, qty, "market" if market else "limit")


def away(side: Side, price: Decimal, percent: Decimal) -> Decimal:
    """``price`` moved ``percent`` to the profit side (long: up, short: down)."""
    factor = ONE + percent / HUNDRED if side == "long" else ONE - percent / HUNDRED
    return price * factor


def leg_tp_price(rules: MarketRules, side: Side, fill_vwap: Decimal,
                 tp_percent: Decimal) -> Decimal:
    """SPEC 3.5: ``round_tick(f × (1 ± t/100))``, measured from the leg's own fill VWAP."""
    return ladder.leg_tp_price(fill_vwap, tp_percent, side, rules.tick_size)


def aggregate_target(rules: MarketRules, side: Side, avg: Decimal, tp_percent: Decimal) -> Decimal:
    return ladder.aggregate_target(avg, tp_percent, side, rules.tick_size)


def min_qty(rules: MarketRules, *, market: bool) -> Decimal:
    if market and rules.market_min_qty:
        return max(rules.min_qty, rules.market_min_qty)
    return rules.min_qty


def max_qty(rules: MarketRules, *, market: bool) -> Decimal | None:
    if market and rules.market_max_qty:
        return rules.market_max_qty
    return rules.max_qty


def meets_minimums(rules: MarketRules, qty: Decimal, price: Decimal, *, market: bool) -> bool:
    """qty ≥ min qty and qty × price ≥ min notional (SPEC 5.3), for one order."""
    if qty <= 0 or qty < min_qty(rules, market=market):
        return False
    if market and not rules.min_notional_applies_to_market:
        return True
    return qty * price * rules.contract_size >= rules.min_notional


def tp_order_valid(rules: MarketRules, qty: Decimal, tp_price: Decimal) -> bool:
    """A TP LIMIT for ``qty`` at ``tp_price`` passes the quantity and notional filters."""
    if not meets_minimums(rules, qty, tp_price, market=False):
        return False
    return rules.max_qty is None or qty <= rules.max_qty


def protected_price(rules: MarketRules, side: str, ref: Decimal, limit_percent: Decimal,
                    current: Decimal) -> Decimal:
    """SPEC 9.3 LIMIT IOC price: ``round_tick(ref × (1 ∓ limit/100))`` moved inside the
    symbol's min/max price and percent-price band (on the tick)."""
    tick = rules.tick_size
    if side == "sell":
        price = round_down(ref * (ONE - limit_percent / HUNDRED), tick)
        low, high = rules.ask_multiplier_down, rules.ask_multiplier_up
    else:
        price = round_down(ref * (ONE + limit_percent / HUNDRED), tick)
        low, high = rules.bid_multiplier_down, rules.bid_multiplier_up
    if low is not None and price < current * low:
        price = round_up(current * low, tick)
    if high is not None and price > current * high:
        price = round_down(current * high, tick)
    if rules.min_price and price < rules.min_price:
        price = round_up(rules.min_price, tick)
    if rules.max_price and price > rules.max_price:
        price = round_down(rules.max_price, tick)
    return price


def reanchored_leg(rules: MarketRules, side: Side, anchor: Decimal, notional: Decimal,
                   level: Level) -> tuple[Decimal, Decimal] | str:
    """(price, qty) of a leg computed from a market DCA0's fill, or why it is skipped."""
    gap = level.gap_percent if side == "long" else -level.gap_percent
    price = round_price(rules, anchor * (ONE + gap / HUNDRED))
    if price <= 0:
        return "price rounds to zero"
    qty = round_qty(rules, notional * level.weight_percent / HUNDRED / price / rules.contract_size)
    if not meets_minimums(rules, qty, price, market=False):
        return "below min qty or min notional"
    if rules.max_qty is not None and qty > rules.max_qty:
        return "above max qty"
    if (rules.min_price and price < rules.min_price) \
            or (rules.max_price and price > rules.max_price):
        return "price outside the allowed range"
    return price, qty
