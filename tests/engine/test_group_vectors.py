"""SPEC 13 vectors for the group reducer: D2, D8, D10, D11, D16, D17, V12, V13 (exact Decimals)."""

from decimal import Decimal as D

import pytest

from engine.group import (
    aggregate_target,
    average_entry,
    filled_notional,
    leg_label,
    leg_tp_price,
    progress_to_tp,
    unrealized,
)
from engine.group.messages import (
    CloseGroup,
    GroupClosed,
    PartialCloseDone,
    PlaceOrder,
    Reduce,
    RiskClose,
    RiskCloseOutcome,
)
from engine.group.state import GroupState, Leg
from engine.types import MarketRules
from tests.engine.group_kit import RULES, Sim

D2_TPS = [D("101.00"), D("99.99"), D("100.98"), D("99.97"), D("98.98")]


def fill_legs(sim: Sim, legs, pyramid: int = 0) -> None:
    sim.ack_all()
    for i in legs:
        sim.fill_all(sim.entry(pyramid, i))
    sim.ack_all()


def test_d2_all_filled_quantity_average_and_targets():
    sim = Sim()
    fill_legs(sim, range(5))
    s = sim.state
    assert s.open_qty == D("10.100")
    assert s.entry_cost == D("999.85")
    avg = average_entry(s)
    assert str(avg).startswith("98.9950495")
    assert aggregate_target(RULES, "long", avg, D(1)) == D("99.98")
    tps = {(o.ref.leg): o.price for o in s.orders if o.ref.purpose == "t"}
    assert [tps[i] for i in range(5)] == D2_TPS
    assert [leg.tp_state for leg in s.legs] == ["placed"] * 5
    assert s.status == "active"


def test_d16_short_mirror():
    legs = [("0", "20", "1", "100.00", "2.000"), ("-0.5", "20", "0.5", "100.50", "1.990"),
            ("-1.0", "20", "2", "101.00", "1.980"), ("-1.5", "20", "1.5", "101.50", "1.970"),
            ("-2.0", "20", "1", "102.00", "1.960")]
    sim = Sim(side="short", legs=legs, tp_mode="hybrid", market_type="futures")
    assert {c.side for c in sim.placed("e")} == {"sell"}
    assert all(c.position_side == "short" and not c.reduce_only for c in sim.placed("e"))
    fill_legs(sim, range(5))
    s = sim.state
    assert s.open_qty == D("9.900")
    assert s.entry_cost == D("999.85")
    avg = average_entry(s)
    assert str(avg).startswith("100.9949494")
    assert aggregate_target(RULES, "short", avg, D(1)) == D("99.98")
    tps = {o.ref.leg: o for o in s.orders if o.ref.purpose == "t"}
    assert [tps[i].price for i in range(5)] == [D("99.00"), D("99.99"), D("98.98"),
                                                D("99.97"), D("100.98")]
    assert all(o.side == "buy" for o in tps.values())
    assert all(c.reduce_only for c in sim.placed("t"))
    sim.price("99.99")
    assert s.status == sim.state.status == "active"  # 99.99 > 99.98: not yet
    sim.price("99.98")
    assert sim.state.status == "closing"
    assert sim.state.close_reason == "aggregate_tp"


def test_d8_lifo_partial_close_for_a_risk_winner():
    legs = [("0", "20", "15", "51", "2"), ("-1", "20", "15", "50.5", "2"),
            ("-2", "20", "15", "50", "2"), ("-3", "20", "15", "49.5", "2"),
            ("-4", "20", "15", "49", "2")]
    sim = Sim(legs=legs, price="51")
    fill_legs(sim, range(5))
    tps = {o.ref.leg: o.price for o in sim.state.orders if o.ref.purpose == "t"}
    assert [tps[i] for i in range(5)] == [D("58.65"), D("58.07"), D("57.50"), D("56.92"),
                                          D("56.35")]
    assert average_entry(sim.state) == D(50)
    sim.price("55")
    assert unrealized(sim.state, D(55))[0] == D(50)
    sim.send(RiskClose(request_id="r1", role="winner", qty=D(8)))
    outcome = sim.events_of(RiskCloseOutcome)[-1]
    assert outcome.accepted and not outcome.full and outcome.qty == D(8)
    # the TPs of DCA4..DCA1 are cancelled first; DCA0's stays
    cancelled = {c.ref.leg for c in sim.cancels()}
    assert cancelled == {1, 2, 3, 4}
    assert not sim.placed("r")
    sim.confirm_cancels()
    close = sim.placed("r")[-1]
    assert close.qty == D(8) and close.order_type == "market" and close.side == "sell"
    sim.fill_all(close.ref, "55")
    done = sim.events_of(PartialCloseDone)[-1]
    assert done.realized == D(42) and done.sold_qty == D(8) and done.request_id == "r1"
    s = sim.state
    assert s.realized_pnl == D(42)
    assert s.open_qty == D(2) and average_entry(s) == D(51)
    assert unrealized(s, D(55))[0] == D(8)
    assert [leg_label(g) for g in s.legs] == ["Open", "Closed", "Closed", "Closed", "Closed"]
    assert [o.ref.leg for o in s.orders if o.ref.purpose == "t"] == [0]
    assert s.status == "active"  # a partial close keeps the slot


def test_d10_hybrid():
    sim = Sim(tp_mode="hybrid")
    sim.ack_all()
    sim.price("99.00")
    for i in range(3):
        sim.fill_all(sim.entry(0, i))
    sim.ack_all()
    s = sim.state
    assert s.open_qty == D("6.030")
    assert str(average_entry(s)).startswith("99.4983416")
    assert aggregate_target(RULES, "long", average_entry(s), D(1)) == D("100.49")
    tps = {o.ref.leg: o.price for o in s.orders if o.ref.purpose == "t"}
    assert tps == {0: D("101.00"), 1: D("99.99"), 2: D("100.98")}
    sim.price("99.99")
    sim.fill_all(sim.tp_ref(0, 1), "99.99")
    assert sim.state.realized_pnl == D("0.98490")
    assert str(average_entry(sim.state)).startswith("99.4975124")
    assert sim.state.status == "partially_filled"
    sim.price("100.48")
    assert sim.state.status == "partially_filled"  # still armed, not yet
    sim.price("100.49")
    assert sim.state.status == "closing"
    cancelled = {(c.ref.purpose, c.ref.leg) for c in sim.cancels()}
    assert cancelled == {("t", 0), ("t", 2), ("e", 3), ("e", 4)}
    assert not sim.placed("a")
    sim.confirm_cancels()
    close = sim.placed("a")[-1]
    assert close.qty == D("4.020")
    sim.fill_all(close.ref, "100.49")
    closed = sim.events_of(GroupClosed)[-1]
    assert closed.reason == "aggregate_tp"
    assert sim.state.realized_pnl == D("4.97470")
    assert closed.record.realized_pnl == D("4.97470")
    assert sim.state.status == "closed"
    assert sim.last.commands[-1].status == "closed"  # ReleaseSlot
    assert [leg_label(g) for g in sim.state.legs] == ["Closed", "Hit TP", "Closed", "Cancelled",
                                                      "Cancelled"]


def test_d11_reduce_with_dust_absorption():
    sim = Sim()
    fill_legs(sim, range(5))
    sim.price("98.90")
    sim.send(Reduce(order_size=D(0), position_size_type="quote",
                    market_position_size=D("1.5"), prev_market_position_size=D("2.5")))
    assert {c.ref.leg for c in sim.cancels()} == {3, 4}
    sim.confirm_cancels()
    close = sim.placed("d")[-1]
    assert close.qty == D("4.070")
    assert close.qty * D("98.90") == D("402.523")
    sim.fill_all(close.ref, "98.90")
    s = sim.state
    assert s.realized_pnl == D("2.64800")
    assert s.open_qty == D("6.030")
    assert str(average_entry(s)).startswith("99.4983416")
    assert sorted(o.ref.leg for o in s.orders if o.ref.purpose == "t") == [0, 1, 2]
    assert [g.tp_state for g in s.legs][3:] == ["cancelled", "cancelled"]
    assert s.status == "active"
    assert not [c for c in sim.commands if type(c).__name__ == "ReleaseSlot"]


def test_v12_and_d17_leg_detail_and_progress():
    rules = MarketRules(symbol="XUSDT", ccxt_symbol="X/USDT", base="X", quote="USDT",
                        tick_size=D("0.00001"), step_size=D(1), min_qty=D(1))
    tp = leg_tp_price(rules, "long", D("0.01153"), D("1.5"))
    assert tp == D("0.01170")
    leg = Leg(pyramid=0, index=3, gap_percent=D("-1.5"), weight_percent=D(20),
              tp_percent=D("1.5"), planned_price=D("0.01153"), planned_qty=D(17346),
              filled_qty=D(16219), fill_vwap=D("0.01153"), open_qty=D(16219))
    assert filled_notional(leg) == D("187.00507")
    assert progress_to_tp("long", D("0.01153"), tp, D("0.01165")).quantize(D(1)) == D(71)
    assert progress_to_tp("long", D("0.01153"), tp, D("0.01150")) == 0
    assert progress_to_tp("long", D("0.01153"), tp, D("0.01171")) == 100
    assert progress_to_tp("long", D(1), D(1), D(2)) == 100


@pytest.mark.parametrize("side,price,usd,pct", [
    ("long", "60015", "37.5", "0.025"), ("short", "60015", "-37.5", "-0.025"),
])
def test_v13_unrealized(side, price, usd, pct):
    leg = Leg(pyramid=0, index=0, gap_percent=D(0), weight_percent=D(100), tp_percent=D(1),
              planned_price=D(60000), planned_qty=D("2.5"), filled_qty=D("2.5"),
              fill_vwap=D(60000), fill_cost=D(150000), open_qty=D("2.5"))
    from engine.group import GridSnapshot
    s = GroupState(group_id=1, exchange="x", symbol="BTCUSDT", timeframe=60, side=side,
                   created_at_ms=0, config=GridSnapshot(), legs=(leg,))
    assert unrealized(s, D(price)) == (D(usd), D(pct))
    flat = GroupState(group_id=1, exchange="x", symbol="BTCUSDT", timeframe=60, side=side,
                      created_at_ms=0, config=GridSnapshot())
    assert unrealized(flat, D(price)) == (0, 0) and average_entry(flat) is None


def test_exit_while_live_closes_without_selling():
    sim = Sim()
    sim.ack_all()
    sim.send(CloseGroup(reason="exit_signal"))
    assert len(sim.cancels()) == 5
    sim.confirm_cancels()
    assert sim.state.status == "closed" and sim.state.close_reason == "exit_signal"
    assert not [c for c in sim.commands if isinstance(c, PlaceOrder) and c.ref.purpose == "x"]
    assert [leg_label(g) for g in sim.state.legs] == ["Cancelled"] * 5
