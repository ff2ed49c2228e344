"""Unrealized PnL is exact: ``qty × P − cost`` (long) from the fills' Σ price × qty, never
``(P − average) × qty`` — the average is a quotient and carries division noise (-1.333 came back
as -1.333000000000000000000000033)."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.group import average_entry, open_cost, unrealized
from tests.engine.group_kit import Sim

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)
LEGS = [("0", "34", "1", "100.00", "3.000"), ("-1", "33", "1", "99.00", "3.000"),
        ("-2", "33", "1", "98.00", "3.000")]
# prices with few and many decimals: the quotients of their weighted sums do not terminate
PRICES = st.sampled_from(["100", "99.97", "99.5", "98.01", "97.3333", "33.3", "0.1655"])


def filled(side: str, fills: list[tuple[int, int, str]]) -> tuple[Sim, D, D]:
    """A group whose legs received ``fills`` (leg, qty in steps, price); returns it with the
    exact quantity and cost those fills add up to."""
    sim = Sim(legs=LEGS, side=side)
    sim.ack_all()
    qty, cost = D(0), D(0)
    left = {i: 3000 for i in range(len(LEGS))}
    for leg, units, price in fills:
        units = min(units, left[leg])
        if units == 0:
            continue
        left[leg] -= units
        q = D(units) * D("0.001")
        sim.trade(sim.entry(0, leg), str(q), price)
        qty, cost = qty + q, cost + q * D(price)
    return sim, qty, cost


@SETTINGS
@given(side=st.sampled_from(["long", "short"]),
       fills=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3000), PRICES), min_size=1,
                      max_size=8),
       price=st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4))
def test_unrealized_equals_qty_times_price_minus_cost_exactly(side, fills, price):
    sim, qty, cost = filled(side, fills)
    usd, _ = unrealized(sim.state, price)
    assert sim.state.open_qty == qty and open_cost(sim.state) == cost
    assert usd == (qty * price - cost if side == "long" else cost - qty * price)


def test_the_reported_case_has_no_division_noise():
    # 3 units for 299 in total: the average 99.666… does not terminate
    sim, qty, cost = filled("long", [(0, 1000, "100"), (1, 2000, "99.5")])
    assert (qty, cost) == (D(3), D("299"))
    usd, pct = unrealized(sim.state, D("99.2"))
    assert usd == D("-1.4") and str(usd) == "-1.4000"
    # the old formula, (P − average) × qty, gave -1.400000000000000000000000001
    assert (D("99.2") - average_entry(sim.state)) * qty != usd
    assert pct == usd / cost * 100
