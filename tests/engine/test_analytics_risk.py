"""Ratios with their n/a rules, a drawdown that recovers, allocation/TVL, the Risk Engine ledger
and the ladder facts of a group driven through the real reducer — hand-computed vectors."""

import math
from decimal import Decimal as D

import pytest

from engine.analytics import ratios
from engine.analytics.allocation import OpenPosition, allocation
from engine.analytics.ladder import FillFact, leg_facts, leg_realized, lot_exits
from engine.analytics.risk_ledger import RiskActionFact, RiskFillFact, ledger
from engine.group.messages import CloseGroup
from tests.engine.group_kit import D2_LEGS, Sim


def test_daily_returns_sharpe_and_sortino_of_a_hand_series():
    equities = [D("1000"), D("1010"), D("999.9"), D("1019.898"), D("1019.898")]
    r = ratios.daily_returns(equities)
    assert r == [0.01, -0.01, 0.02, 0.0]
    # mean 0.005; sample variance (0.005² + 0.015² + 0.015² + 0.005²) / 3 = 0.0005 / 3
    assert ratios.sharpe(r) == pytest.approx(0.005 / math.sqrt(0.0005 / 3) * math.sqrt(365),
                                             rel=1e-12)
    # downside deviation √(0.01² / 4) = 0.005: Sortino = √365
    assert ratios.downside_deviation(r) == pytest.approx(0.005, rel=1e-12)
    assert ratios.sortino(r) == pytest.approx(math.sqrt(365), rel=1e-12)


@pytest.mark.parametrize("returns, sharpe_na, sortino_na", [
    ([], True, True),
    ([0.01], True, True),               # fewer than two daily returns
    ([0.01, 0.01, 0.01], True, True),   # zero deviation, and nothing below zero
    ([0.01, 0.02], False, True),        # no negative day: downside deviation 0
    ([0.0, 0.0], True, True),
    ([-0.01, -0.01], True, False),      # constant losses: Sharpe n/a, Sortino defined
])
def test_ratios_are_na_before_two_returns_and_at_zero_deviation(returns, sharpe_na, sortino_na):
    assert (ratios.sharpe(returns) is None) == sharpe_na
    assert (ratios.sortino(returns) is None) == sortino_na


def test_a_day_starting_at_zero_equity_has_no_return():
    assert ratios.daily_returns([D(0), D(10), D(11)]) == [0.1]


def test_a_drawdown_that_recovers():
    series = [D(100), D(120), D(90), D(110), D(130), D(125)]
    dd = ratios.drawdown(series)
    assert dd.peak == D(130) and dd.max == D("0.25")  # 120 → 90
    assert dd.current(D(125)) == D(5) / D(130)
    assert dd.current(D(140)) == 0  # a new high: no drawdown
    # step by step equals all at once (the snapshot writer keeps the running state)
    running = ratios.Drawdown()
    for e in series:
        running = running.step(e)
    assert running == dd
    assert ratios.drawdown([D(-5), D(-10)]).max == 0  # no positive peak yet: not measured


def test_win_loss_ratios():
    assert ratios.win_rate(0, 0) is None and ratios.win_rate(1, 4) == D(25)
    assert ratios.profit_factor(D(10), D(0)) is None
    assert ratios.profit_factor(D(10), D(-4)) == D("2.5")
    assert ratios.reward_risk(D(3), None) is None and ratios.reward_risk(D(3), D(-2)) == D("1.5")


def test_allocation_and_tvl():
    out = allocation(
        [OpenPosition(symbol="BTCUSDT", side="long", qty=D("0.5"), cost=D(30000),
                      price=D(61000)),
         OpenPosition(symbol="ETHUSDT", side="long", qty=D(2), cost=D(6000), price=None)],
        {"BTCUSDT": D(1000), "SOLUSDT": D(500)}, pool_used=2, pool_max=10,
        total_equity=D(50000))
    pairs = {p["pair"]: p for p in out["pairs"]}
    assert pairs["BTCUSDT"]["exposure_usd"] == D(30500)
    assert pairs["ETHUSDT"]["exposure_usd"] is None  # unpriced: n/a, never a guess
    assert pairs["SOLUSDT"]["entry_orders_usd"] == D(500) and pairs["SOLUSDT"]["qty"] == 0
    assert out["pool"] == {"used": 2, "max": 10, "used_percent": D(20)}
    assert out["locked_in_dca_percent"] == D(3)
    assert out["tvl"] == {"deployed_usd": D(37500), "free_usd": D(12500),
                          "total_equity_usd": D(50000), "deployed_percent": D(75)}
    empty = allocation([], {}, pool_used=0, pool_max=10, total_equity=None)
    assert empty["tvl"]["free_usd"] is None and empty["locked_in_dca_percent"] is None


def test_risk_ledger_of_one_offset():
    # loser ETH planned at 45.2, closed 2 @ 45 (fee 0.09) → realized −10.09, slippage 0.4;
    # winner SOL planned at 12.1, sold 5 @ 12 (fee 0.06) → realized 9.94, slippage 0.5
    action = RiskActionFact(id=1, ts_ms=1000, outcome="executed", loser_id=2,
                            loser_price=D("45.2"), winner_prices={3: D("12.1")},
                            realized={2: D("-10.09"), 3: D("9.94")})
    fills = [RiskFillFact(group_id=3, ts_ms=1100, side="sell", price=D(12), qty=D(5),
                          fee_usd=D("0.06")),
             RiskFillFact(group_id=2, ts_ms=1200, side="sell", price=D(45), qty=D(2),
                          fee_usd=D("0.09")),
             RiskFillFact(group_id=9, ts_ms=1200, side="sell", price=D(1), qty=D(1),
                          fee_usd=D(1))]  # a group no action names
    out = ledger([action], fills)
    row = out["actions"][0]
    assert (row["loss_closed_usd"], row["profit_spent_usd"]) == (D("-10.09"), D("9.94"))
    assert (row["fees_usd"], row["slippage_usd"], row["net_usd"]) == \
        (D("0.15"), D("0.9"), D("-0.15"))
    assert out["total"]["net_usd"] == D("-0.15") and out["total"]["executed"] == 1
    assert ledger([], [])["total"]["actions"] == 0


def test_ladder_facts_of_a_group_run_through_the_reducer():
    """Leg 0: bought 2 @ 100 (fee 0.2), TP 2 @ 101 (fee 0.202) → −0.2 + 2 − 0.202 = 1.598.
    Leg 1: bought 2.01 @ 99.5 (fee 0.2), closed by the exit 2.01 @ 99 (fee 0.199)
    → −0.2 − 1.005 − 0.199 = −1.404. The group: 0.194."""
    sim = Sim(legs=D2_LEGS[:2])
    sim.ack_all()
    fills: list[FillFact] = []

    def trade(ref, qty, price, fee):
        before = sim.state
        sim.trade(ref, qty, price, fee=fee)
        after = sim.state
        lots = () if ref.purpose == "e" else lot_exits(before, after, D(price))
        fills.append(FillFact(purpose=ref.purpose, pyramid=ref.pyramid, leg=ref.leg,
                              realized=after.realized_pnl - before.realized_pnl, lots=lots))
        sim.end(ref)

    trade(sim.entry(0, 0), "2.000", "100.00", "0.2")
    trade(sim.entry(0, 1), "2.010", "99.50", "0.2")
    sim.ack_all()
    trade(sim.tp_ref(0, 0), "2.000", "101.00", "0.202")
    sim.send(CloseGroup(reason="exit_signal"), price=D("99.00"))
    sim.confirm_cancels()
    sim.ack_all()
    trade(sim.close_ref(), "2.010", "99.00", "0.199")
    assert sim.state.status == "closed" and sim.state.realized_pnl == D("0.194")
    assert fills[2].lots[0].gross == D(2) and fills[3].lots[0].gross == D("-1.005")
    per_leg = leg_realized(fills)
    assert per_leg == {(0, 0): D("1.598"), (0, 1): D("-1.404")}
    legs = leg_facts(sim.state, fills)
    assert [(f.index, f.filled, f.realized) for f in legs] == \
        [(0, True, D("1.598")), (1, True, D("-1.404"))]
    assert all(f.fill_ms is not None and f.fill_ms > 0 for f in legs)


def test_an_exit_fee_is_shared_between_its_lots_by_quantity():
    from engine.analytics.ladder import LotExit

    f = FillFact(purpose="x", pyramid=None, leg=None, realized=D("2.7"),
                 lots=(LotExit(pyramid=0, leg=0, qty=D(1), gross=D(1)),
                       LotExit(pyramid=0, leg=1, qty=D(2), gross=D(2))))  # fee 0.3
    assert leg_realized([f]) == {(0, 0): D("0.9"), (0, 1): D("1.8")}
