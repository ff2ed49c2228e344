"""Binance's order filters as the simulated exchange applies them (SPEC 12.6), for
``engine/matching.py``: which filter a new order fails, in Binance's order of checks.

Pure: the market's rules, the order's terms, the current price and the symbol's open-order
count in; the failing filter's name (or None) out.
"""

from decimal import Decimal
from typing import Protocol

from engine.decimals import ZERO
from engine.types import MarketRules


class OrderTerms(Protocol):
    """What a filter looks at (``engine.matching.NewOrder`` has it)."""

    @property
    def type(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...


def filter_failure(rules: MarketRules, order: OrderTerms, current: Decimal | None,
                   open_count: int) -> str | None:
    """The first Binance filter the order fails, or None. Binance's own arithmetic: steps and
    ticks count from the minimum (``(qty - minQty) % stepSize``), a published 0 = no limit."""
    limit = order.type == "limit"
    if limit:
        p = order.price
        assert p is not None
        base = rules.min_price or ZERO
        if (p <= 0 or p < base or (rules.max_price and p > rules.max_price)
                or (rules.tick_size and (p - base) % rules.tick_size)):
            return "PRICE_FILTER"
    q = order.quantity
    if (q <= 0 or q < rules.min_qty or (rules.max_qty and q > rules.max_qty)
            or (rules.step_size and (q - rules.min_qty) % rules.step_size)):
        return "LOT_SIZE"
    if not limit:
        lo, hi, step = rules.market_min_qty, rules.market_max_qty, rules.market_step_size
        if (lo and q < lo) or (hi and q > hi) or (step and (q - (lo or ZERO)) % step):
            return "MARKET_LOT_SIZE"
    if limit and current is not None and _outside_band(rules, order.side, p, current):
        return "PERCENT_PRICE_BY_SIDE"
    value = q * (p if limit else current)  # type: ignore[operator]
    if (limit or rules.min_notional_applies_to_market) and value < rules.min_notional:
        return "NOTIONAL"
    if limit and rules.max_notional and value > rules.max_notional:
        return "NOTIONAL"
    if rules.max_num_orders and open_count >= rules.max_num_orders:
        return "MAX_NUM_ORDERS"
    return None


def _outside_band(rules: MarketRules, side: str, price: Decimal, current: Decimal) -> bool:
    if side == "buy":
        up, down = rules.bid_multiplier_up, rules.bid_multiplier_down
    else:
        up, down = rules.ask_multiplier_up, rules.ask_multiplier_down
    return bool((up and price > current * up) or (down and price < current * down))
