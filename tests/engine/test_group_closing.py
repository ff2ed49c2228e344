"""Closing side of the group reducer: full close procedure (cancel, book, sell, split, retry,
cap, dust), exit racing a TP fill, reduce variants and Risk Engine closes."""

from decimal import Decimal as D

import msgspec
import pytest

from engine.group import leg_label
from engine.group.messages import (
    AddPyramid,
    CloseGroup,
    CloseRetry,
    CloseShortfall,
    GroupClosed,
    Ignored,
    LotWrittenOff,
    OrderAccepted,
    OrderEnded,
    OrderRejected,
    PartialCloseDone,
    PyramidIgnored,
    Reduce,
    ReleaseSlot,
    RiskClose,
    RiskCloseOutcome,
    Tick,
    WriteOffLot,
)
from tests.engine.group_kit import RULES, Sim, plan


def filled_sim(**kw) -> Sim:
    sim = Sim(**kw)
    sim.ack_all()
    for i in range(5):
        sim.fill_all(sim.entry(0, i))
    sim.ack_all()
    return sim


def test_exit_racing_a_tp_fill_sells_only_what_remains():
    sim = filled_sim()
    sim.price("101.00")
    sim.send(CloseGroup(reason="exit_signal", max_slippage_percent=D("0.5")))
    assert sim.state.status == "closing" and len(sim.cancels()) == 5
    # DCA0's TP filled before the cancel reached it: the exchange reports the trade, then the end
    sim.trade(sim.tp_ref(0, 0), "2.000", "101.00")
    sim.end(sim.tp_ref(0, 0), "filled")
    assert not sim.placed("x")  # four cancels still in flight
    sim.confirm_cancels()
    close = sim.placed("x")[-1]
    assert close.qty == D("8.100") and close.order_type == "market"
    sim.fill_all(close.ref, "101.00")
    s = sim.state
    assert s.status == "closed" and s.open_qty == 0
    assert sum(c.qty for c in sim.placed() if c.side == "sell" and c.ref.purpose in "tx"
               and c.ref.purpose == "x") + D(2) == D("10.100")
    assert leg_label(s.leg(0, 0)) == "Hit TP" and leg_label(s.leg(0, 4)) == "Closed"
    # a second trigger finds the group closed
    sim.send(CloseGroup(reason="manual"))
    assert sim.events_of(Ignored)[-1].reason == "group is closed"


def test_second_trigger_while_closing_is_a_noop():
    sim = filled_sim(tp_mode="hybrid")
    sim.send(CloseGroup(reason="exit_signal"))
    sim.send(CloseGroup(reason="manual"))
    sim.send(RiskClose(request_id="q", role="loser"))
    sim.price("200")  # the aggregate target would fire: first trigger already won
    sim.send(AddPyramid(plan=plan(index=1)))
    assert sim.state.close_reason == "exit_signal"
    assert not sim.events_of(RiskCloseOutcome)[-1].accepted
    assert sim.events_of(PyramidIgnored)[-1].reason == "group_closing"


def test_close_splits_above_max_qty_and_retries_a_partial_fill():
    rules = msgspec.structs.replace(RULES, max_qty=D(100), market_max_qty=D(4))
    sim = filled_sim(rules=rules, evaluate_interval_ms=10_000)
    sim.send(CloseGroup(reason="manual"))
    sim.confirm_cancels()
    first = sim.placed("m")[-1]
    assert (first.qty, first.ref.attempt) == (D(4), 0)
    sim.fill_all(first.ref, "99")
    second = sim.placed("m")[-1]
    assert (second.qty, second.ref.attempt) == (D(4), 1)
    sim.trade(second.ref, "1.5", "99")
    sim.end(second.ref, "expired")
    assert sim.events_of(CloseRetry)[-1].remaining == D("4.600")
    sim.send(Tick(), advance=5_000)
    assert len(sim.placed("m")) == 2  # not before the interval
    sim.send(Tick(), advance=6_000)
    third = sim.placed("m")[-1]
    assert (third.qty, third.ref.attempt) == (D(4), 2)
    sim.send(OrderRejected(ref=third.ref, reason="insufficient"))
    sim.send(Tick(), advance=10_000)
    fourth = sim.placed("m")[-1]
    sim.fill_all(fourth.ref, "99")
    last = sim.placed("m")[-1]
    assert last.qty == D("0.600")
    sim.fill_all(last.ref, "99")
    assert sim.state.status == "closed"
    assert sim.events_of(GroupClosed)[-1].record.exit_proceeds == D("10.100") * 99


def test_reject_slippage_sends_limit_ioc_at_the_protected_price():
    rules = msgspec.structs.replace(RULES, ask_multiplier_down=D("0.995"))
    sim = filled_sim(slippage_action="reject", rules=rules)
    sim.price("100")
    sim.send(CloseGroup(reason="exit_signal", max_slippage_percent=D(1)))
    sim.confirm_cancels()
    close = sim.placed("x")[-1]
    # 100 x 0.99 = 99.00 lies below the band 100 x 0.995: moved up to 99.50
    assert (close.order_type, close.time_in_force, close.price) == ("limit", "IOC", D("99.50"))
    sim.end(close.ref, "expired")  # nothing filled: retried later with a fresh price
    sim.send(Tick(), advance=10_000, price=D(98))
    assert sim.placed("x")[-1].price == D("97.51")


def test_close_without_price_waits_and_unsellable_rest_becomes_dust():
    sim = filled_sim()
    sim.send(CloseGroup(reason="manual"), price=None)
    sim.confirm_cancels()
    assert not sim.placed("m") and sim.events_of(CloseRetry)[-1].reason == "no current price"
    sim.send(Tick(), advance=10_000, price=D(99))
    close = sim.placed("m")[-1]
    sim.trade(close.ref, "10.099", "99")
    sim.end(close.ref, "filled")
    assert sim.state.status == "closing"  # 0.001 left: partially filled
    sim.send(Tick(), advance=10_000, price=D(1))  # 0.001 x 1 < min notional: dust
    s = sim.state
    assert s.status == "closed" and s.dust_qty == D("0.001")
    assert sim.events_of(GroupClosed)[-1].record.dust_qty == D("0.001")


def test_spot_close_is_capped_at_the_free_balance_and_a_shortfall_is_written_off():
    sim = filled_sim()
    sim.send(CloseGroup(reason="manual"), free_base=D("6.0009"))
    sim.confirm_cancels()
    assert sim.events_of(CloseShortfall)[-1].available == D("6.000")
    close = sim.placed("m")[-1]
    assert close.qty == D("6.000")
    sim.trade(close.ref, "6.000", "100")
    sim.send(OrderEnded(ref=close.ref, status="filled"), free_base=D(0))
    assert sim.events_of(CloseRetry)  # the rest is not believed missing on the first try
    sim.send(Tick(), advance=10_000, free_base=D(0))
    assert sim.events_of(LotWrittenOff)
    assert sim.state.status == "closed"
    assert sum(g.written_off_qty for g in sim.state.legs) == D("4.100")


def test_reconciliation_write_off_shrinks_a_lot_and_its_tp():
    sim = filled_sim()
    sim.send(WriteOffLot(pyramid=0, leg=4, qty=D("1.000")))
    assert sim.state.leg(0, 4).open_qty == D("1.040")
    assert sim.state.realized_pnl == D(-98)
    sim.confirm_cancels()
    assert sim.placed("t")[-1].qty == D("1.040")
    sim.send(WriteOffLot(pyramid=0, leg=4, qty=D(0)))
    with pytest.raises(Exception) as err:
        sim.send(WriteOffLot(pyramid=3, leg=0, qty=D(1)))
    assert err.value.field == "leg"


@pytest.mark.parametrize("size,kind,market,expected", [
    ("990", "quote", "spot", D("10.000")),  # 10 of 10.1: the 0.1 left is worth 9.90 >= 5
    ("2.040", "base", "spot", D("2.040")),
    ("2.040", "contracts", "futures", D("2.040")),
    ("0.00204", "base", "futures", D("2.040")),  # divided by the contract size 0.001
    ("0.20196", "quote", "futures", D("2.040")),  # / 99 / 0.001
])
def test_reduce_sizes(size, kind, market, expected):
    rules = msgspec.structs.replace(RULES, contract_size=D("0.001"), min_notional=D(0)) \
        if market == "futures" else RULES
    sim = filled_sim(tp_mode="aggregate", rules=rules, market_type=market)
    sim.price("99")
    sim.send(Reduce(order_size=D(size), position_size_type=kind, market_position_size=D(0),
                    prev_market_position_size=D(0)))
    close = sim.placed("d")[-1]
    assert close.qty == expected
    sim.fill_all(close.ref, "99")
    assert sim.events_of(PartialCloseDone)[-1].sold_qty == expected


def test_reduce_that_is_ignored_or_skipped():
    sim = filled_sim()
    sim.price("99")
    sim.send(Reduce(order_size=None, position_size_type="quote", market_position_size=D(1),
                    prev_market_position_size=D(0)))
    assert sim.events_of(Ignored)[-1].reason == "reduce without size"
    sim.send(Reduce(order_size=D("0.0005"), position_size_type="base",
                    market_position_size=D(0), prev_market_position_size=D(0)))
    assert "below min qty" in sim.events_of(Ignored)[-1].reason
    sim.send(Reduce(order_size=D(100), position_size_type="base", market_position_size=D(0),
                    prev_market_position_size=D(0)))
    assert sim.state.close_reason == "reduce_full"
    sim.send(Reduce(order_size=D(1), position_size_type="base", market_position_size=D(0),
                    prev_market_position_size=D(0)))
    assert sim.events_of(Ignored)[-1].reason == "group is closing"
    live = Sim()
    live.send(Reduce(order_size=D(1), position_size_type="base", market_position_size=D(0),
                     prev_market_position_size=D(0)))
    assert live.events_of(Ignored)[-1].reason == "nothing open"


def test_reduce_that_would_leave_a_position_below_minimums_becomes_a_full_close():
    sim = Sim(legs=[("0", "100", "1", "100", "0.100")])
    sim.ack_all()
    sim.fill_all(sim.entry(0, 0))
    sim.price("100")
    sim.send(Reduce(order_size=D("0.060"), position_size_type="base",
                    market_position_size=D(0), prev_market_position_size=D(0)))
    assert sim.state.close_reason == "reduce_full"


def test_partial_close_replans_after_tp_fills_reported_by_the_cancels():
    sim = filled_sim()
    sim.price("98.90")
    sim.send(Reduce(order_size=D("2.040"), position_size_type="base",
                    market_position_size=D(0), prev_market_position_size=D(0)))
    assert [c.ref.leg for c in sim.cancels()] == [4]
    sim.trade(sim.tp_ref(0, 4), "2.040", "98.98")  # DCA4's TP filled meanwhile
    sim.end(sim.tp_ref(0, 4), "filled")
    # the re-plan takes the next lots, DCA3 whole and 0.010 of DCA2: their TPs are cancelled
    assert [c.ref.leg for c in sim.cancels()] == [4, 3, 2]
    sim.confirm_cancels()
    close = sim.placed("d")[-1]
    assert close.qty == D("2.040")
    sim.fill_all(close.ref, "98.90")
    assert sim.state.leg(0, 3).open_qty == 0 and sim.state.leg(0, 2).open_qty == D("2.010")
    assert sim.placed("t")[-1].qty == D("2.010") and sim.placed("t")[-1].ref.attempt == 1
    done = sim.events_of(PartialCloseDone)[-1]
    assert done.sold_qty == D("2.040")
    sim.send(Reduce(order_size=D("1"), position_size_type="base", market_position_size=D(0),
                    prev_market_position_size=D(0)))
    sim.confirm_cancels()
    assert sim.placed("d")[-1].ref.attempt == 1


def test_risk_close_outcomes():
    sim = filled_sim()
    sim.price("99")
    sim.send(RiskClose(request_id="a", role="winner", qty=D("0.0001")))
    out = sim.events_of(RiskCloseOutcome)[-1]
    assert not out.accepted and "below" in out.reason
    sim.send(RiskClose(request_id="b", role="winner", qty=D("2.000")))
    out = sim.events_of(RiskCloseOutcome)[-1]
    assert out.accepted and out.qty == D("2.040") and out.reason  # DCA4 taken whole
    sim.send(RiskClose(request_id="c", role="winner", qty=D(1)))
    assert sim.events_of(RiskCloseOutcome)[-1].reason == "partial close in progress"
    sim.send(Reduce(order_size=D(1), position_size_type="base", market_position_size=D(0),
                    prev_market_position_size=D(0)))
    assert sim.events_of(Ignored)[-1].reason == "partial close in progress"
    sim.send(RiskClose(request_id="d", role="winner"))  # a full close takes over the partial
    out = sim.events_of(RiskCloseOutcome)[-1]
    assert out.accepted and out.full and sim.state.close_reason == "risk_winner_full"
    assert sim.state.partial is None
    loser = filled_sim()
    loser.send(RiskClose(request_id="e", role="loser"))
    assert loser.state.close_reason == "risk_loser"
    loser.confirm_cancels()
    assert loser.placed("r")[-1].qty == D("10.100")
    loser.fill_all(loser.close_ref(), "90")
    assert loser.state.status == "closed"
    loser.send(RiskClose(request_id="f", role="loser"))
    assert not loser.events_of(RiskCloseOutcome)[-1].accepted
    loser.send(OrderAccepted(ref=loser.entry(0, 0)))
    loser.trade(loser.entry(0, 0), "0.001", "100")  # a late trade of a closed group is booked
    assert loser.state.leg(0, 0).filled_qty == D("2.001")


def test_risk_close_without_price_or_lots_is_refused():
    sim = filled_sim()
    sim.send(RiskClose(request_id="a", role="winner", qty=D(1)), price=None)
    assert sim.events_of(RiskCloseOutcome)[-1].reason == "no current price"
    with pytest.raises(Exception) as err:
        sim.send(RiskClose(request_id="b", role="winner", qty=D(0)), price=D(99))
    assert err.value.field == "qty"
    fresh = Sim()
    fresh.send(RiskClose(request_id="c", role="winner", qty=D(1)))
    assert fresh.events_of(RiskCloseOutcome)[-1].reason == "nothing open"
    fresh.send(RiskClose(request_id="d", role="winner"))
    assert fresh.state.close_reason == "risk_winner_full"
    fresh.confirm_cancels()
    assert fresh.state.status == "closed"
    assert fresh.last.commands[-1] == ReleaseSlot(group_id=7, status="closed")
