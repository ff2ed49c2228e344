"""Market-rule arithmetic of the group package and plan validation (table-driven)."""

from decimal import Decimal as D

import msgspec
import pytest

from engine.errors import InvalidInput
from engine.group.messages import PartialCloseDone, PlannedLeg, PyramidPlan, Reduce
from engine.group.rules import (
    meets_minimums,
    min_qty,
    protected_price,
    reanchored_leg,
    round_qty,
    tp_order_valid,
)
from engine.types import Level
from tests.engine.group_kit import RULES, Sim

R = msgspec.structs.replace


@pytest.mark.parametrize("rules,side,ref,limit,current,expected", [
    (RULES, "sell", "100", "1", "100", "99.00"),
    (RULES, "buy", "100", "1", "100", "101.00"),
    (R(RULES, bid_multiplier_up=D("1.005")), "buy", "100", "1", "100", "100.50"),
    (R(RULES, bid_multiplier_down=D("0.5"), bid_multiplier_up=D(2)), "buy", "100", "1", "100",
     "101.00"),
    (R(RULES, min_price=D("99.5")), "sell", "100", "1", "100", "99.50"),
    (R(RULES, max_price=D("100.5")), "buy", "100", "1", "100", "100.50"),
])
def test_protected_price(rules, side, ref, limit, current, expected):
    assert protected_price(rules, side, D(ref), D(limit), D(current)) == D(expected)


def test_minimums_and_steps():
    rules = R(RULES, market_step_size=D("0.01"), market_min_qty=D("0.05"),
              min_notional_applies_to_market=False, max_qty=D(3))
    assert round_qty(rules, D("1.2345")) == D("1.234")
    assert round_qty(rules, D("1.2345"), market=True) == D("1.23")
    assert min_qty(rules, market=True) == D("0.05") and min_qty(rules, market=False) == D("0.001")
    assert meets_minimums(rules, D("0.05"), D(1), market=True)  # notional not applied to MARKET
    assert not meets_minimums(rules, D("0.05"), D(1), market=False)
    assert not meets_minimums(rules, D(0), D(100), market=False)
    assert tp_order_valid(rules, D(3), D(100)) and not tp_order_valid(rules, D("3.001"), D(100))


@pytest.mark.parametrize("rules,anchor,notional,level,expected", [
    (RULES, "100", "1000", ("-0.5", "20"), (D("99.50"), D("2.010"))),
    (RULES, "0.001", "1000", ("-99.9", "20"), "price rounds to zero"),
    (RULES, "100", "10", ("-1", "20"), "below min qty or min notional"),
    (R(RULES, max_qty=D(1)), "100", "1000", ("-1", "20"), "above max qty"),
    (R(RULES, min_price=D(99.9)), "100", "1000", ("-1", "20"), "price outside the allowed range"),
])
def test_reanchored_leg(rules, anchor, notional, level, expected):
    lv = Level(gap_percent=D(level[0]), weight_percent=D(level[1]), tp_percent=D(1))
    assert reanchored_leg(rules, "long", D(anchor), D(notional), lv) == expected


def leg(i: int, **kw) -> PlannedLeg:
    base = dict(index=i, gap_percent=D(0), weight_percent=D(100), tp_percent=D(1),
                price=D(100), qty=D(1))
    return PlannedLeg(**{**base, **kw})


@pytest.mark.parametrize("changes,field", [
    (dict(reference_price=D(0)), "plan.reference_price"),
    (dict(notional=D(-1)), "plan.notional"),
    (dict(index=10), "plan.index"),
    (dict(legs=()), "plan.legs"),
    (dict(legs=(leg(1),)), "plan.legs"),
    (dict(legs=tuple(leg(i) for i in range(11))), "plan.legs"),
    (dict(legs=(leg(0, price=D(0)),)), "plan.legs[0].price"),
])
def test_plan_validation(changes, field):
    plan = PyramidPlan(index=0, reference_price=D(100), notional=D(100), signal_ts_ms=0,
                       legs=(leg(0),))
    sim = Sim(legs=[("0", "100", "1", "100", "1.000")])
    from engine.group.draft import Draft
    from engine.group.entries import place_pyramid
    with pytest.raises(InvalidInput) as err:
        place_pyramid(Draft(sim.state, 0, sim.ctx), msgspec.structs.replace(plan, **changes))
    assert err.value.field == field
    with pytest.raises(InvalidInput) as err:
        Sim(entry_order_type="market")  # a market DCA0 plan carries leg 0 only
    assert err.value.field == "plan.legs"


def test_partial_replans_into_a_full_close_or_a_skip():
    legs = [("0", "50", "1", "100", "1.000"), ("-1", "50", "1", "99", "1.000")]
    sim = Sim(legs=legs, price="99")
    sim.ack_all()
    sim.fill_all(sim.entry(0, 0))
    sim.fill_all(sim.entry(0, 1))
    sim.ack_all()
    sim.send(Reduce(order_size=D("0.900"), position_size_type="base",
                    market_position_size=D(0), prev_market_position_size=D(0)))
    sim.trade(sim.tp_ref(0, 1), "0.960", "99.99")  # DCA1's TP filled almost all of its lot
    sim.end(sim.tp_ref(0, 1), "filled")
    sim.confirm_cancels()
    # re-planned on the 1.040 left: DCA1's 0.040 whole, 0.860 of DCA0 (whose TP is cancelled
    # in turn); 0.140 x 99 = 13.86 stays, so it is still a partial close
    assert [c.ref.leg for c in sim.cancels()] == [1, 0]
    assert sim.placed("d")[-1].qty == D("0.900")
    full = Sim(legs=legs, price="99")
    full.ack_all()
    full.fill_all(full.entry(0, 0))
    full.fill_all(full.entry(0, 1))
    full.ack_all()
    full.send(Reduce(order_size=D("1.000"), position_size_type="base",
                     market_position_size=D(0), prev_market_position_size=D(0)))
    full.trade(full.tp_ref(0, 1), "1.000", "99.99")
    full.end(full.tp_ref(0, 1), "filled")
    full.confirm_cancels()
    assert full.state.close_reason == "reduce_full"
    skip = Sim(legs=legs, price="99")
    skip.ack_all()
    skip.fill_all(skip.entry(0, 0))
    skip.fill_all(skip.entry(0, 1))
    skip.ack_all()
    skip.send(Reduce(order_size=D("0.060"), position_size_type="base",
                     market_position_size=D(0), prev_market_position_size=D(0)))
    skip.price("80")  # 0.060 x 80 = 4.80 < 5 by the time the TP cancel is confirmed
    skip.confirm_cancels()
    assert skip.state.partial is None and not skip.placed("d")
    done = skip.events_of(PartialCloseDone)[-1]
    assert done.sold_qty == 0 and skip.placed("t")[-1].ref.attempt == 1
