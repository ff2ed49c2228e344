"""What the group tells the gateway's waiting line: each order's age and stale-ladder price, and
a withdrawal when it cancels an order that may not have left the line yet."""

from decimal import Decimal as D

from engine.group.messages import (
    CloseGroup, EntryEnded, OrderAccepted, OrderEnded, PlaceOrder, WithdrawOrder,
)
from tests.engine.group_kit import Sim


def withdrawals(sim: Sim) -> list[WithdrawOrder]:
    return [c for c in sim.commands if isinstance(c, WithdrawOrder)]


def test_entry_legs_carry_their_decision_time_and_stale_ladder_price():
    sim = Sim(cancel_beyond="2")
    entries = sim.placed("e")
    assert [e.decided_ms for e in entries] == [1_000] * 5
    assert {e.stale_at for e in entries} == {D("102")}  # reference 100, 2 % to the profit side
    never = Sim(cancel_beyond="0").placed("e")
    assert {e.stale_at for e in never} == {None}  # X = 0: a ladder never goes stale


def test_take_profits_and_closes_carry_no_stale_price():
    sim = Sim(cancel_beyond="2")
    sim.send(OrderAccepted(ref=sim.entry(0, 0)))
    sim.trade(sim.entry(0, 0), "2")
    (tp,) = sim.placed("t")
    assert tp.stale_at is None and tp.decided_ms == sim.now  # the trade's step placed it


def test_an_exit_withdraws_the_legs_still_waiting_and_closes_once_they_are_out():
    sim = Sim(cancel_beyond="2")
    sim.send(OrderAccepted(ref=sim.entry(0, 0)))  # one leg rests, four still wait in the line
    sim.send(CloseGroup(reason="exit_signal"))
    assert sorted(w.ref.leg for w in withdrawals(sim)) == [1, 2, 3, 4]
    assert [c.ref.leg for c in sim.cancels()] == [0]  # the resting one needs a real cancel
    for w in withdrawals(sim):  # the gateway took them out: ended, never sent
        sim.send(OrderEnded(ref=w.ref, status="canceled", dropped=True))
    sim.end(sim.entry(0, 0), "canceled")
    assert sim.state.status == "closed"
    assert not [e for e in sim.events_of(EntryEnded) if e.external]
    assert not [c for c in sim.commands if isinstance(c, PlaceOrder) and c.ref.purpose == "x"]


def test_a_leg_the_line_dropped_as_stale_is_not_an_outside_cancel():
    sim = Sim(cancel_beyond="2")
    sim.send(OrderEnded(ref=sim.entry(0, 3), status="canceled", dropped=True))
    (ended,) = sim.events_of(EntryEnded)
    assert (ended.leg, ended.state, ended.external) == (3, "cancelled", False)
    sim.send(OrderEnded(ref=sim.entry(0, 4), status="canceled"))  # no flag: someone else did it
    assert sim.events_of(EntryEnded)[-1].external


def test_a_stale_ladder_withdraws_its_waiting_legs():
    sim = Sim(cancel_beyond="2")
    sim.price("102.5")
    assert sorted(w.ref.leg for w in withdrawals(sim)) == [0, 1, 2, 3, 4]
    assert sim.cancels() == []
