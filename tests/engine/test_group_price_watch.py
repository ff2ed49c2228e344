"""A price inside a group's quiet band decides nothing (engine/group/price_watch.py)."""

from decimal import Decimal as D

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.group import decide
from engine.group.messages import CloseGroup, PriceChanged
from engine.group.price_watch import inside, quiet_band
from tests.engine.group_kit import Sim

PRICES = [D(95) + D("0.25") * i for i in range(41)]


def check(sim: Sim) -> int:
    band = quiet_band(sim.state, sim.ctx.rules)
    if band is None or sim.state.status in ("closed", "failed"):
        return 0  # an ended group's actor decides no price at all
    checked = 0
    edges = [b for b in band if b is not None]
    for p in PRICES + edges + [e + d for e in edges for d in (D("-0.01"), D("0.01"))]:
        if not inside(band, p):
            continue
        ctx = msgspec.structs.replace(sim.ctx, price=p)
        step = decide(sim.state, PriceChanged(price=p), sim.now + 1, ctx)
        assert (step.state, step.events, step.commands) == (sim.state, (), ()), (band, p)
        checked += 1
    return checked


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_a_price_in_the_quiet_band_changes_nothing(data):
    sim = Sim(tp_mode=data.draw(st.sampled_from(["leg", "hybrid", "aggregate"])),
              side=data.draw(st.sampled_from(["long", "short"])),
              cancel_beyond=data.draw(st.sampled_from(["0", "0.5", "2"])), price="100")
    sim.ack_all()
    checked = 0
    for _ in range(data.draw(st.integers(3, 15))):
        checked += check(sim)
        action = data.draw(st.sampled_from(["fill", "fill", "price", "close", "cancels"]))
        orders = [o for o in sim.state.orders if o.state == "open" and o.qty > o.filled_qty]
        if action == "fill" and orders:
            o = data.draw(st.sampled_from(orders))
            sim.trade(o.ref, str(o.qty - o.filled_qty))
            sim.end(o.ref)
            sim.ack_all()
        elif action == "price":
            sim.price(str(data.draw(st.sampled_from(PRICES))))
            sim.ack_all()
        elif action == "close":
            sim.send(CloseGroup(reason="exit_signal"))
        else:
            sim.confirm_cancels()
    checked += check(sim)
    assert checked > 0 or sim.state.status in ("closing", "closed", "failed")


def test_the_band_ends_at_the_first_trigger_which_still_acts():
    """At the bound itself the aggregate target fires: the band is open, not closed."""
    sim = Sim(tp_mode="aggregate", side="long", cancel_beyond="0", price="100")
    sim.ack_all()
    [entry] = [o for o in sim.state.orders if o.state == "open" and o.ref.leg == 0]
    sim.trade(entry.ref, str(entry.qty))
    sim.end(entry.ref)
    sim.ack_all()
    low, high = quiet_band(sim.state, sim.ctx.rules)
    assert low is None and high is not None
    ctx = msgspec.structs.replace(sim.ctx, price=high)
    step = decide(sim.state, PriceChanged(price=high), sim.now + 1, ctx)
    assert step.state.status == "closing" and step.state.close_reason == "aggregate_tp"
