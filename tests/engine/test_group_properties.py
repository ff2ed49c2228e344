"""Properties of the group reducer under random message sequences (hypothesis).

- a reduce / risk close / exit never sells more than the group holds;
- every quantity is accounted for at every step:
  fills − base fees = open + dust + sold + written off;
- the average entry does not depend on how the fills were split or interleaved.
"""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.group import average_entry
from engine.group.messages import CloseGroup, OrderEnded, Reduce, RiskClose, Tick
from tests.engine.group_kit import Sim

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)
STEP = D("0.001")


def check_books(sim: Sim) -> None:
    for leg in sim.state.legs:
        held = leg.open_qty + leg.dust_qty + leg.sold_qty + leg.written_off_qty
        assert leg.filled_qty - leg.base_fee_qty == held, leg
        assert leg.open_qty >= 0 and leg.dust_qty >= 0
    # the sell orders resting at any time fit in what is held (a TP is replaced by cancelling
    # first; a close is sent only after the affected TPs ended)
    live_sells = sum((o.qty - o.filled_qty for o in sim.state.orders if o.side == "sell"), D(0))
    assert live_sells <= sim.state.open_qty + sim.state.dust_qty


def qty_of(draw_units: int) -> D:
    return D(draw_units) * STEP


@SETTINGS
@given(st.data())
def test_random_sequences_keep_the_books_and_never_oversell(data):
    mode = data.draw(st.sampled_from(["leg", "hybrid", "aggregate"]))
    sim = Sim(tp_mode=mode, price="99")
    sim.ack_all()
    for _ in range(data.draw(st.integers(5, 25))):
        before = sim.state.open_qty + sim.state.dust_qty
        sold_before = sum((leg.sold_qty for leg in sim.state.legs), D(0))
        action = data.draw(st.sampled_from(
            ["entry", "entry", "tp", "price", "reduce", "risk", "cancels", "close", "exit"]))
        orders = list(sim.state.orders)
        if action == "entry":
            entries = [o for o in orders if o.ref.purpose == "e" and o.state == "open"]
            if entries:
                o = data.draw(st.sampled_from(entries))
                rest = int((o.qty - o.filled_qty) / STEP)
                n = data.draw(st.integers(1, rest))
                sim.trade(o.ref, str(qty_of(n)))
                if n == rest:
                    sim.end(o.ref)
        elif action == "tp":
            tps = [o for o in orders if o.ref.purpose == "t" and o.state == "open"]
            if tps:
                o = data.draw(st.sampled_from(tps))
                rest = int((o.qty - o.filled_qty) / STEP)
                n = data.draw(st.integers(1, rest))
                sim.trade(o.ref, str(qty_of(n)))
                if n == rest:
                    sim.end(o.ref)
        elif action == "price":
            sim.price(str(data.draw(st.sampled_from(["98", "99", "99.5", "100", "100.6"]))))
        elif action == "reduce":
            sim.send(Reduce(order_size=qty_of(data.draw(st.integers(1, 12_000))),
                            position_size_type="base", market_position_size=D(0),
                            prev_market_position_size=D(0)))
        elif action == "risk":
            sim.send(RiskClose(request_id="r", role="winner",
                               qty=qty_of(data.draw(st.integers(1, 12_000)))))
        elif action == "cancels":
            sim.confirm_cancels()
        elif action == "close":
            closes = [o for o in orders if o.ref.purpose not in "et" and o.state != "retry"]
            if closes:
                o = closes[0]
                rest = int((o.qty - o.filled_qty) / STEP)
                n = data.draw(st.integers(0, rest))
                if n:
                    sim.trade(o.ref, str(qty_of(n)))
                sim.send(OrderEnded(ref=o.ref, status="filled" if n == rest else "expired"))
            sim.send(Tick(), advance=20_000)
        else:
            sim.send(CloseGroup(reason="exit_signal"))
        sold = sum((leg.sold_qty for leg in sim.state.legs), D(0)) - sold_before
        assert sold <= before  # nothing is ever sold twice or beyond what is held
        check_books(sim)
    # whatever happened, a full close empties the group
    sim.send(CloseGroup(reason="manual"))
    for _ in range(6):
        sim.confirm_cancels()
        for o in list(sim.state.orders):
            if o.ref.purpose not in "et":
                sim.fill_all(o.ref)
        sim.send(Tick(), advance=20_000)
    assert sim.state.status == "closed" and sim.state.open_qty == 0
    check_books(sim)


def splits(total_units: int):
    return st.lists(st.integers(1, total_units), min_size=0, max_size=4).map(
        lambda cuts: sorted({c for c in cuts if c < total_units}))


@SETTINGS
@given(st.data())
def test_average_entry_does_not_depend_on_how_fills_are_split(data):
    legs = [("0", "50", "1", "100", "1.500"), ("-1", "50", "1", "99", "2.250")]
    prices = ["100", "99.97", "99.5"]

    def run(chunks_per_leg, order):
        sim = Sim(legs=legs)
        sim.ack_all()
        for leg_i in order:
            qty, price = chunks_per_leg[leg_i].pop(0)
            sim.trade(sim.entry(0, leg_i), str(qty), price)
        return sim

    plan = []  # per leg: list of (qty, price)
    for total in (1500, 2250):
        cuts = data.draw(splits(total))
        bounds = [0, *cuts, total]
        plan.append([(qty_of(b - a), data.draw(st.sampled_from(prices)))
                     for a, b in zip(bounds, bounds[1:])])
    order = [i for i, chunks in enumerate(plan) for _ in chunks]
    order = data.draw(st.permutations(order))
    split_sim = run([list(c) for c in plan], order)
    # the same fills merged into one trade per leg at their exact VWAP
    merged = []
    for chunks in plan:
        qty = sum((q for q, _ in chunks), D(0))
        cost = sum((q * D(p) for q, p in chunks), D(0))
        merged.append([(qty, str(cost / qty))])
    whole_sim = run(merged, [0, 1])
    assert average_entry(split_sim.state) == average_entry(whole_sim.state)
    vwaps = [g.fill_vwap for g in split_sim.state.legs]
    assert vwaps == [g.fill_vwap for g in whole_sim.state.legs]
