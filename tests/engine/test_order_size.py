"""The smallest order_size that lets a refused ladder pass (engine/order_size.py)."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.grid_settings import GridSettings
from engine.ladder import PlanRejected, PyramidPlan, plan_pyramid, pyramid_notional
from engine.order_size import describe_rejection, size_unit, smallest_order_size
from engine.types import Level, MarketRules

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)


def rules(tick="0.01", step="0.001", min_qty="0.001", min_notional="5", **kw) -> MarketRules:
    return MarketRules(symbol="TESTUSDT", ccxt_symbol="TEST/USDT", base="TEST", quote="USDT",
                       tick_size=D(tick), step_size=D(step), min_qty=D(min_qty),
                       min_notional=D(min_notional), **kw)


def plan(grid, r, size, size_type="quote", reference="100", side="long", current=None):
    notional = pyramid_notional(order_size=size, size_type=size_type, reference=D(reference),
                                contract_size=r.contract_size)
    return plan_pyramid(grid, pyramid=0, side=side, reference=D(reference), notional=notional,
                        rules=r, current_price=D(current or reference))


def test_the_console_example_four_usdt_below_five():
    # default ladder: five legs of 20 %; 20 USDT gives 4 USDT legs, below the 5 USDT minimum
    r = rules(min_notional="5")
    grid = GridSettings()
    rejected = plan(grid, r, D("20"))
    assert isinstance(rejected, PlanRejected)
    minimum = smallest_order_size(grid, pyramid=0, side="long", reference=D(100), rules=r,
                                  current_price=D(100))
    # DCA4 at 98.00 needs 5 / 98 → 0.052 on the step: 0.052 × 98 × 100 / 20 = 25.48
    assert minimum == D("25.48")
    assert isinstance(plan(grid, r, minimum), PyramidPlan)
    assert isinstance(plan(grid, r, minimum - D("0.01")), PlanRejected)
    text = describe_rejection(rejected.problems, rules=r, minimum=minimum)
    assert text.startswith("DCA0 fails min_notional: it would be 4.00 USDT, below the 5.00 "
                           "USDT minimum (short by 1.00); DCA1 fails min_notional: it would "
                           "be 3.98 USDT")
    assert text.endswith("an order_size of at least 25.48 USDT would pass")


def test_no_size_fixes_a_price_band():
    r = rules(bid_multiplier_down=D("0.999"), bid_multiplier_up=D("1.001"))
    grid = GridSettings()  # legs 0.5 % … 2 % below the price: outside a 0.1 % band
    assert smallest_order_size(grid, pyramid=0, side="long", reference=D(100), rules=r,
                               current_price=D(100)) is None
    rejected = plan(grid, r, D("1000"))
    assert "no order_size fixes this" in describe_rejection(rejected.problems, rules=r,
                                                            minimum=None)


def test_a_maximum_below_the_minimum_leaves_no_size():
    r = rules(min_qty="1", max_qty=D("1.5"))
    grid = GridSettings(dca_levels=(Level(gap_percent=D(0), weight_percent=D(10),
                                          tp_percent=D(1)),
                                    Level(gap_percent=D(-1), weight_percent=D(90),
                                          tp_percent=D(1))))
    # leg 0 needs 1 unit (1000 USDT of notional at 10 %): leg 1 then gets 9 units > 1.5
    assert smallest_order_size(grid, pyramid=0, side="long", reference=D(100), rules=r,
                               current_price=D(100)) is None


def weights(n: int):
    """n positive integer weights summing to 100."""
    return st.lists(st.integers(1, 60), min_size=n, max_size=n).filter(
        lambda w: sum(w) <= 100).map(lambda w: [*w[:-1], 100 - sum(w[:-1])]).filter(
        lambda w: w[-1] > 0)


@st.composite
def cases(draw):
    tick = draw(st.sampled_from(["0.01", "0.1", "0.00001", "1", "0.0005"]))
    step = draw(st.sampled_from(["0.001", "0.1", "1", "0.00001", "0.05"]))
    min_qty = D(step) * draw(st.integers(1, 20))
    r = rules(tick=tick, step=step, min_qty=str(min_qty),
              min_notional=str(draw(st.sampled_from(["0", "1", "5", "10", "7.5"]))),
              quote_precision=8)
    n = draw(st.integers(1, 7))
    ws = draw(weights(n))
    gaps = sorted((D(-draw(st.integers(0, 300))) / 100 for _ in range(n)), reverse=True)
    levels = tuple(Level(gap_percent=g, weight_percent=D(w), tp_percent=D(1))
                   for g, w in zip(gaps, ws))
    grid = GridSettings(dca_levels=levels, max_dca_per_pyramid=7,
                        entry_order_type=draw(st.sampled_from(["limit", "limit", "market"])))
    reference = D(draw(st.integers(1, 10**7))) * D(tick)
    size_type = draw(st.sampled_from(["quote", "base"]))
    side = draw(st.sampled_from(["long", "short"]))
    return r, grid, reference, size_type, side


@SETTINGS
@given(cases())
def test_the_computed_minimum_passes_and_one_unit_less_fails(case):
    r, grid, reference, size_type, side = case
    minimum = smallest_order_size(grid, pyramid=0, side=side, reference=reference, rules=r,
                                  current_price=reference, size_type=size_type)
    if minimum is None:  # then even a huge order fails
        assert isinstance(plan(grid, r, D(10) ** 9, size_type, str(reference), side),
                          PlanRejected)
        return
    unit = size_unit(size_type, r)
    assert minimum % unit == 0
    assert isinstance(plan(grid, r, minimum, size_type, str(reference), side), PyramidPlan)
    if minimum > unit:
        below = plan(grid, r, minimum - unit, size_type, str(reference), side)
        assert isinstance(below, PlanRejected)
