"""Entry side of the group reducer: partial fills and TPs, replacement coalescing, rollback,
external cancels, dust, market DCA0, stale ladders, retries, status and timer."""

from decimal import Decimal as D

import pytest

from engine.errors import InvalidInput
from engine.group import leg_label, next_pyramid_index, slots_held, timer_condition_met
from engine.group.messages import (
    AddPyramid,
    CloseGroup,
    EntryEnded,
    FeeUnconverted,
    GroupClosed,
    GroupFailed,
    Ignored,
    LadderCancelled,
    LegSkipped,
    LotToDust,
    OrderAccepted,
    OrderRejected,
    PyramidAbandoned,
    PyramidIgnored,
    ReleaseSlot,
    StatusChanged,
    Tick,
    TimerChanged,
    TpProblem,
    TradeFilled,
)
from engine.group.state import OrderRef
from tests.engine.group_kit import Sim, d2_levels, plan


def test_partial_fill_gets_a_tp_for_the_filled_part_at_once():
    sim = Sim()
    sim.ack_all()
    sim.trade(sim.entry(0, 0), "1.000")
    tp = sim.placed("t")[-1]
    assert (tp.qty, tp.price, tp.side, tp.ref.attempt) == (D("1.000"), D("101.00"), "sell", 0)
    leg = sim.state.leg(0, 0)
    assert leg.entry_state == "partially_filled" and leg_label(leg) == "Open"
    assert sim.state.status == "partially_filled"


def test_tp_replacement_is_coalesced_and_uses_the_new_vwap():
    sim = Sim()
    sim.ack_all()
    e0 = sim.entry(0, 0)
    sim.trade(e0, "0.500", "100")
    assert len(sim.placed("t")) == 1  # attempt 0, still pending
    sim.trade(e0, "0.500", "100")
    assert len(sim.placed("t")) == 1 and not sim.cancels()  # wait for the acknowledgement
    sim.send(OrderAccepted(ref=sim.tp_ref(0, 0)))
    assert len(sim.cancels()) == 1  # now replace: 0.5 rests, lot is 1.0
    for _ in range(4):
        sim.trade(e0, "0.200", "99")
    assert len(sim.cancels()) == 1 and len(sim.placed("t")) == 1  # coalesced
    sim.end(sim.tp_ref(0, 0), "canceled")
    tps = sim.placed("t")
    assert len(tps) == 2
    assert (tps[1].ref.attempt, tps[1].qty) == (1, D("1.800"))
    # VWAP (0.5*100*2 + 0.8*99) / 1.8 = 99.555..; TP +1 % = 100.551.. -> 100.55
    assert tps[1].price == D("100.55")
    assert sim.state.leg(0, 0).tp_attempt == 2


def test_rollback_of_pyramid_zero_with_nothing_filled_fails_the_group():
    sim = Sim()
    for i in (0, 1, 3, 4):
        sim.send(OrderAccepted(ref=sim.entry(0, i)))
    sim.send(OrderRejected(ref=sim.entry(0, 2), reason="-2010 insufficient balance"))
    assert sim.state.leg(0, 2).entry_state == "failed"
    assert {c.ref.leg for c in sim.cancels()} == {0, 1, 3, 4}
    assert sim.state.status == "live"
    sim.confirm_cancels()
    assert sim.state.status == "failed" and sim.state.close_reason == "creation_failed"
    assert sim.events_of(GroupFailed)
    assert sim.last.commands == (ReleaseSlot(group_id=7, status="failed"),)
    assert [leg_label(g) for g in sim.state.legs] == ["Cancelled"] * 5
    assert slots_held(sim.state, count_pyramids=True, count_dca=False) == 0


def test_rollback_keeps_filled_lots_and_a_pending_leg_is_cancelled_on_ack():
    sim = Sim()
    sim.send(OrderAccepted(ref=sim.entry(0, 0)))
    sim.trade(sim.entry(0, 0), "1.000")
    sim.send(OrderRejected(ref=sim.entry(0, 1), reason="filter"))
    assert {c.ref.leg for c in sim.cancels()} == {0}  # the others are not acknowledged yet
    sim.confirm_cancels()  # acks 2..4 and the TP, which are cancelled (entries) or kept (TP)
    assert {c.ref.leg for c in sim.cancels() if c.ref.purpose == "e"} == {0, 2, 3, 4}
    s = sim.state
    assert s.status == "active" and s.open_qty == D("1.000")
    assert [g.entry_state for g in s.legs] == ["cancelled", "failed", "cancelled", "cancelled",
                                               "cancelled"]
    assert [o.ref.purpose for o in s.orders] == ["t"]


def test_later_pyramid_rolled_back_with_nothing_filled_does_not_count():
    sim = Sim(max_pyramids=2)
    sim.ack_all()
    assert next_pyramid_index(sim.state) == 1
    sim.send(AddPyramid(plan=plan(index=1, ref="95", ts=5)))
    assert sim.state.pyramid_count == 2
    assert slots_held(sim.state, count_pyramids=False, count_dca=True) == 10
    sim.send(OrderRejected(ref=sim.entry(1, 0), reason="filter"))
    sim.confirm_cancels()
    assert sim.state.pyramid_count == 1
    assert slots_held(sim.state, count_pyramids=True, count_dca=False) == 2
    assert slots_held(sim.state, count_pyramids=False, count_dca=False) == 1
    sim.send(AddPyramid(plan=plan(index=2, ref="94", ts=6)))
    assert sim.state.pyramid_count == 2
    sim.send(AddPyramid(plan=plan(index=3, ref="93", ts=7)))
    assert sim.events_of(PyramidIgnored)[-1].reason == "max_pyramids"
    with pytest.raises(InvalidInput) as err:
        Sim(max_pyramids=3).send(AddPyramid(plan=plan(index=2)))
    assert err.value.field == "plan.index"


def test_external_cancels_entry_and_tp():
    sim = Sim()
    sim.ack_all()
    sim.end(sim.entry(0, 4), "canceled")
    ended = sim.events_of(EntryEnded)[-1]
    assert ended.external and ended.state == "cancelled"
    assert leg_label(sim.state.leg(0, 4)) == "Cancelled"
    sim.trade(sim.entry(0, 0), "1.000")
    sim.ack_all()
    sim.end(sim.tp_ref(0, 0), "canceled")
    assert sim.state.leg(0, 0).tp_state == "external_cancel"
    assert sim.events_of(TpProblem)[-1].problem == "external_cancel"
    n = len(sim.placed("t"))
    sim.trade(sim.entry(0, 0), "1.000")  # more lot: the operator's cancel is still respected
    assert len(sim.placed("t")) == n
    assert leg_label(sim.state.leg(0, 0)) == "Open"


def test_tp_rejected_waits_for_the_next_fill_and_unknown_late_messages_are_harmless():
    sim = Sim()
    sim.ack_all()
    e0 = sim.entry(0, 0)
    sim.trade(e0, "1.000")
    ref = sim.tp_ref(0, 0)
    sim.send(OrderRejected(ref=ref, reason="-1013 filter"))
    assert sim.state.leg(0, 0).tp_blocked and sim.events_of(TpProblem)[-1].problem == "rejected"
    sim.send(Tick(), advance=60_000)
    assert len(sim.placed("t")) == 1
    sim.trade(e0, "0.500")
    assert sim.placed("t")[-1].qty == D("1.500") and sim.placed("t")[-1].ref.attempt == 1
    sim.send(OrderAccepted(ref=ref))  # late ack of a dead order
    sim.send(OrderRejected(ref=ref))
    assert len(sim.placed("t")) == 2
    sim.ack_all()
    sim.end(sim.tp_ref(0, 0), "expired")
    assert sim.state.leg(0, 0).tp_state == "none"


def test_retryable_rejection_is_resent_with_the_same_id_after_the_interval():
    sim = Sim(evaluate_interval_ms=10_000)
    ref = sim.entry(0, 3)
    sim.send(OrderRejected(ref=ref, retryable=True, reason="unreachable"))
    assert sim.order(ref).state == "retry"
    n = len(sim.placed("e"))
    sim.send(Tick(), advance=5_000)
    assert len(sim.placed("e")) == n
    sim.send(Tick(), advance=6_000)
    resent = sim.placed("e")[-1]
    assert resent.ref == ref and sim.order(ref).state == "pending"
    # a retry-state order that is no longer wanted ends at once (it never reached the exchange)
    sim.send(OrderRejected(ref=ref, retryable=True))
    sim.send(OrderRejected(ref=sim.entry(0, 4), reason="filter"))
    assert sim.state.leg(0, 3).entry_state == "cancelled"


def test_base_fee_shrinks_the_lot_and_the_rest_is_dust():
    sim = Sim()
    sim.ack_all()
    sim.trade(sim.entry(0, 0), "2.000", fee="0.0015", fee_asset="TEST")
    leg = sim.state.leg(0, 0)
    assert (leg.open_qty, leg.dust_qty) == (D("1.998"), D("0.0005"))
    assert sim.state.realized_pnl == D("-0.15") and sim.state.fees_paid == D("0.15")
    assert sim.placed("t")[-1].qty == D("1.998")
    # a third-asset fee is converted when a price is known, reported otherwise
    sim.trade(sim.entry(0, 1), "1.000", "99.50", fee="0.01", fee_asset="BNB")
    assert sim.events_of(FeeUnconverted)[-1].asset == "BNB"
    sim.send(TradeFilled(ref=sim.entry(0, 1), trade_id="bnb2", price=D("99.50"), qty=D(1),
                         fee=D("0.01"), fee_asset="BNB", ts_ms=9), asset_prices={"BNB": D(600)})
    assert sim.state.fees_paid == D("6.15")


@pytest.mark.parametrize("mode,label,open_qty", [("leg", "Closed", "0"),
                                                  ("hybrid", "Open", "0.040")])
def test_lot_too_small_for_a_tp_at_entry_end(mode, label, open_qty):
    sim = Sim(tp_mode=mode)
    sim.ack_all()
    sim.trade(sim.entry(0, 0), "0.040")  # 0.04 x 101 = 4.04 < min notional 5
    assert not sim.placed("t")
    sim.end(sim.entry(0, 0), "canceled")
    leg = sim.state.leg(0, 0)
    assert leg_label(leg) == label and leg.open_qty == D(open_qty)
    assert bool(sim.events_of(LotToDust)) == (mode == "leg")


def test_all_legs_hit_tp_closes_the_group_and_books_dust():
    sim = Sim(legs=[("0", "50", "1", "100", "1.000"), ("-1", "50", "1", "99", "1.000")])
    sim.ack_all()
    sim.trade(sim.entry(0, 0), "1.000", fee="0.0005", fee_asset="TEST")
    sim.end(sim.entry(0, 0))
    sim.fill_all(sim.entry(0, 1))
    sim.ack_all()
    sim.fill_all(sim.tp_ref(0, 1), "99.99")
    assert sim.state.status == "active"
    sim.fill_all(sim.tp_ref(0, 0), "101")
    s = sim.state
    assert s.status == "closed" and s.close_reason == "all_legs_tp"
    closed = sim.events_of(GroupClosed)[-1]
    # 0.99 + 0.999 x 1 - fee 0.05 - dust 0.0005 x 100 at zero proceeds
    assert closed.realized == D("0.99") + D("0.999") - D("0.05") - D("0.05")
    assert closed.record.dust_qty == D("0.0005") and closed.record.legs_filled == 2
    assert [leg_label(g) for g in s.legs] == ["Hit TP", "Hit TP"]
    assert sim.last.commands[-1] == ReleaseSlot(group_id=7, status="closed")


def test_tp_fill_closing_the_lot_cancels_the_rest_of_its_entry():
    sim = Sim()
    sim.ack_all()
    sim.trade(sim.entry(0, 0), "1.000")
    sim.ack_all()
    sim.fill_all(sim.tp_ref(0, 0), "101")
    assert sim.state.leg(0, 0).tp_state == "hit"
    assert [c.ref for c in sim.cancels()] == [sim.entry(0, 0)]
    sim.trade(sim.entry(0, 0), "0.500")  # it raced the cancel: a new lot needs a TP again
    sim.end(sim.entry(0, 0), "canceled")
    assert sim.placed("t")[-1].qty == D("0.500")
    assert leg_label(sim.state.leg(0, 0)) == "Open"


def test_stale_ladder_cancellation_closes_an_empty_group():
    sim = Sim(cancel_beyond="1")
    sim.ack_all()
    sim.price("100.99")
    assert not sim.cancels()
    sim.price("101.00")
    assert sim.events_of(LadderCancelled) and len(sim.cancels()) == 5
    sim.price("102")
    assert len(sim.cancels()) == 5  # once per pyramid
    sim.confirm_cancels()
    assert sim.state.status == "closed" and sim.state.close_reason == "ladder_cancelled"


def test_stale_ladder_keeps_lots_and_their_tps():
    sim = Sim(cancel_beyond="1")
    sim.ack_all()
    sim.fill_all(sim.entry(0, 0))
    sim.ack_all()
    sim.price("101.5")
    assert {c.ref.purpose for c in sim.cancels()} == {"e"}
    sim.confirm_cancels()
    assert sim.state.status == "active" and sim.state.open_qty == D(2)


def test_market_dca0_reanchors_the_other_legs_on_its_fill():
    sim = Sim(entry_order_type="market", legs=[("0", "20", "1", "100.00", "2.000")],
              levels=d2_levels())
    first = sim.placed("e")
    assert len(first) == 1 and first[0].order_type == "market"
    assert sim.state.status == "live"
    sim.send(OrderAccepted(ref=sim.entry(0, 0)))
    sim.trade(sim.entry(0, 0), "2.000", "100.50")
    assert sim.state.status == "partially_filled"
    sim.end(sim.entry(0, 0))
    legs = sim.placed("e")[1:]
    # B := 100.50; -0.5 % -> 99.9975 -> 99.99; qty 200 / 99.99 = 2.0002 -> 2.000
    assert [(c.price, c.qty) for c in legs] == [
        (D("99.99"), D("2.000")), (D("99.49"), D("2.010")), (D("98.99"), D("2.020")),
        (D("98.49"), D("2.030"))]
    assert sim.state.pyramids[0].reference_price == D("100.50")


def test_market_dca0_skips_invalid_reanchored_legs_and_abandons_without_fill():
    levels = d2_levels()[:1] + d2_levels()[1:2]
    sim = Sim(entry_order_type="market", legs=[("0", "99.6", "1", "100", "0.050")],
              levels=levels[:1] + (levels[1].__class__(gap_percent=D(-1), weight_percent=D("0.4"),
                                                       tp_percent=D(1)),))
    sim.send(OrderAccepted(ref=sim.entry(0, 0)))
    sim.fill_all(sim.entry(0, 0))
    assert sim.events_of(LegSkipped)  # 1000 x 0.4 % = 4 USDT < min notional
    sim = Sim(entry_order_type="market", legs=[("0", "20", "1", "100", "2.000")],
              levels=d2_levels(), slippage_action="reject")
    first = sim.placed("e")[0]
    assert (first.order_type, first.time_in_force, first.price) == ("limit", "IOC", D("101.00"))
    sim.end(sim.entry(0, 0), "expired")
    assert sim.events_of(PyramidAbandoned) and sim.state.status == "failed"
    sim2 = Sim(entry_order_type="market", legs=[("0", "20", "1", "100", "2.000")],
               levels=d2_levels())
    sim2.send(OrderRejected(ref=sim2.entry(0, 0), reason="filter"))
    assert sim2.state.status == "failed"


def test_status_transitions_and_the_timer_conditions():
    sim = Sim(max_pyramids=2, timer_start_condition="after_all_dca_filled",
              legs=[("0", "50", "1", "100", "1.000"), ("-1", "50", "1", "99", "1.000")])
    assert sim.state.status == "live"
    sim.ack_all()
    sim.fill_all(sim.entry(0, 0))
    assert sim.state.status == "partially_filled" and sim.state.timer_started_at_ms is None
    sim.fill_all(sim.entry(0, 1))
    assert sim.state.status == "active"
    started = sim.state.timer_started_at_ms
    assert started == sim.now
    sim.send(AddPyramid(plan=plan(index=1, legs=[("0", "100", "1", "98", "1.000")], ref="98")))
    assert sim.state.status == "partially_filled" and sim.state.timer_started_at_ms is None
    assert sim.events_of(TimerChanged)[-1].why == "cleared"
    sim.ack_all()
    assert timer_condition_met(sim.state, "after_all_dca_submitted")
    assert timer_condition_met(sim.state, "after_5_pyramids")
    sim.fill_all(sim.entry(1, 0))
    assert sim.state.timer_started_at_ms == sim.now
    changes = [(e.old, e.new) for e in sim.events_of(StatusChanged)]
    assert changes == [("live", "partially_filled"), ("partially_filled", "active"),
                       ("active", "partially_filled"), ("partially_filled", "active")]


def test_replacement_pyramid_resets_only_a_running_timer():
    sim = Sim(max_pyramids=1, reset_timer_on_replacement=True)
    first = sim.state.timer_started_at_ms
    assert first == sim.now  # after_5_pyramids with a maximum of 1
    sim.send(AddPyramid(plan=plan(index=1)), advance=40_000)
    assert sim.state.timer_started_at_ms == sim.now != first
    quiet = Sim(max_pyramids=2, reset_timer_on_replacement=True)
    quiet.send(AddPyramid(plan=plan(index=1)))
    quiet.send(AddPyramid(plan=plan(index=2)))
    assert quiet.events_of(PyramidIgnored)


def test_bad_input_names_the_field():
    sim = Sim()
    with pytest.raises(InvalidInput) as err:
        sim.trade(sim.entry(0, 0), "-1")
    assert err.value.field == "qty"
    with pytest.raises(InvalidInput) as err:
        sim.send(OrderAccepted(ref=OrderRef(pyramid=3, leg=0, purpose="e", attempt=0)))
    assert err.value.field == "ref"
    with pytest.raises(InvalidInput) as err:
        Sim(legs=[("0", "100", "1", "100", "0")])
    assert err.value.field == "plan.legs[0].qty"
    sim.trade(sim.entry(0, 0), "1", "100")
    sim.send(TradeFilled(ref=sim.entry(0, 0), trade_id=f"t{sim.trade_seq}", price=D(100),
                         qty=D(1), fee=D(0), fee_asset="USDT", ts_ms=1))
    assert sim.events_of(Ignored)[-1].reason == "already booked"
    assert sim.state.leg(0, 0).filled_qty == D(1)


def test_a_late_or_duplicate_end_of_an_old_tp_attempt_leaves_the_live_tp_alone():
    """The stream, a catch-up and a restart's reconciliation can each report one end: an end
    for an order the group no longer tracks changes nothing (found by the crash test)."""
    sim = Sim()
    sim.ack_all()
    sim.trade(sim.entry(0, 0), "1.000")  # partial fill: TP attempt 0 for 1.000
    sim.ack_all()
    old_tp = sim.tp_ref(0, 0)
    sim.trade(sim.entry(0, 0), "1.000")  # the lot grows: TP replaced (cancel, then attempt 1)
    sim.confirm_cancels()
    sim.ack_all()
    live = sim.tp_ref(0, 0)
    assert live.attempt == old_tp.attempt + 1
    before = sim.state
    sim.end(old_tp, "canceled")  # a duplicate report of the replaced attempt's end
    assert sim.state.leg(0, 0).tp_state == "placed"
    assert sim.state.orders == before.orders
    assert not [e for e in sim.events_of(TpProblem) if e.problem == "external_cancel"]


def test_a_repeated_acknowledgement_keeps_a_requested_cancel():
    """The response and the stream can both acknowledge one order; a second ack must not make
    the engine forget that it asked for a cancel (whose end would then look external)."""
    sim = Sim()
    sim.ack_all()
    ref = sim.entry(0, 4)
    sim.send(CloseGroup(reason="manual"))
    assert sim.order(ref).cancel == "requested"
    sim.send(OrderAccepted(ref=ref))
    assert sim.order(ref).cancel == "requested"
    sim.end(ref, "canceled")
    assert not [e for e in sim.events_of(EntryEnded) if e.external]
