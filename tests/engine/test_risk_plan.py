"""Offset plan (SPEC 7.5): V9, D4, D4b, D9, D20, D21, and the cover-or-no-action property."""

from decimal import Decimal as D

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.decimals import round_up
from engine.errors import InvalidInput
from engine.pool import GroupSlots, used_slots
from engine.risk import (
    NoAction,
    OffsetPlan,
    PlanStep,
    RiskSettings,
    SkippedWinner,
    plan_offsets,
    rank_winners,
    unit_profit,
)
from tests.engine.risk_views import view

ZERO_FEE = D(0)
S = RiskSettings()


def d4(w2_price="55", **over):
    loser = view(1, "100", "94", "20")
    w1 = view(2, "100", "110", "8", created=1)
    w2 = view(3, "50", w2_price, "10", created=2)
    return loser, rank_winners([loser, w1, w2], exclude_id=1), RiskSettings(**over)


def test_d4_v9_offset_without_fees():
    loser, winners, s = d4()
    assert [w.id for w in winners] == [2, 3]
    plan = plan_offsets(loser, winners, s, taker_fee_rate=ZERO_FEE)
    assert isinstance(plan, OffsetPlan)
    assert plan.required_usd == D(120) and plan.fees_est == 0 and plan.passes == 0
    assert plan.loss_percent == D("-6.00") and plan.loss_usd == D(-120)
    assert plan.steps == (
        PlanStep(group_id=2, symbol="G2USDT", qty=D(8), price=D(110), notional=D(880),
                 estimated_usd=D(80), full=True, raised=False),
        PlanStep(group_id=3, symbol="G3USDT", qty=D("8.000"), price=D(55), notional=D(440),
                 estimated_usd=D(40), full=False, raised=False),
    )
    assert plan.covered_usd - plan.required_usd == 0  # realized +80 +40 -120 = 0
    assert plan.loser_notional == D(1880)
    # W1 full close and the loser release their slots; W2's partial close keeps its slot
    groups = {1: "active", 2: "active", 3: "active"}
    slots = lambda: used_slots(  # noqa: E731
        [GroupSlots(group_id=i, status=st_, pyramid_count=5, entry_leg_count=25)
         for i, st_ in groups.items()],
        count_pyramids_toward_pool=False, count_dca_toward_pool=False)
    before = slots()
    for step in plan.steps:
        if step.full:
            groups[step.group_id] = "closed"
    groups[plan.loser_id] = "closed"
    assert before - slots() == 2


def test_d4b_fee_iteration():
    loser, winners, s = d4()
    plan = plan_offsets(loser, winners, s, taker_fee_rate=D("0.001"))
    assert isinstance(plan, OffsetPlan)
    w1, w2 = plan.steps
    assert (w1.qty, w1.full, w1.estimated_usd) == (D(8), True, D(80))
    assert (w2.qty, w2.full, w2.notional, w2.estimated_usd) == (
        D("8.648"), False, D("475.640"), D("43.240"))
    assert plan.fees_est == D("3.23564") and plan.required_usd == D("123.23564")
    assert plan.passes == 3
    fees_paid = D("0.001") * (plan.loser_notional + w1.notional + w2.notional)
    assert fees_paid == D("0.88") + D("0.47564") + D("1.88")
    assert plan.covered_usd - D(120) - fees_paid == D("0.00436")


def test_default_fee_rate_is_0_1_percent():
    loser, winners, s = d4()
    assert plan_offsets(loser, winners, s) == plan_offsets(
        loser, winners, s, taker_fee_rate=D("0.001"))


def test_slippage_allowance_adds_to_required():
    loser, winners, s = d4(offset_slippage_percent=D("0.1"))
    plan = plan_offsets(loser, winners, s, taker_fee_rate=ZERO_FEE)
    assert plan.slippage_est == D("3.23564") and plan.fees_est == 0
    assert plan.required_usd == D("123.23564")


def test_d9_minimum_raise_and_skip_not_counted():
    loser = view(1, "100", "98.80", "1")  # -1.20 USD
    small = view(2, "10", "11", "1.5")  # profit 1.5, value 16.5
    big = view(3, "100", "110", "5", min_notional="5")  # profit 50
    plan = plan_offsets(loser, [small, big], RiskSettings(max_winners_to_combine=1),
                        taker_fee_rate=ZERO_FEE)
    assert isinstance(plan, OffsetPlan)
    assert plan.skipped == (SkippedWinner(group_id=2, reason="below_minimum",
                                          needed_qty=D("1.819"), open_qty=D("1.5")),)
    (step,) = plan.steps
    assert (step.qty, step.notional, step.estimated_usd, step.raised, step.full) == (
        D("0.182"), D("20.020"), D("1.820"), True, False)
    assert plan.covered_usd - plan.required_usd == D("0.62")


def test_raise_honours_min_qty():
    loser = view(1, "100", "99", "1")  # -1 USD
    w = view(2, "100", "110", "5", min_qty="0.5")
    (step,) = plan_offsets(loser, [w], S, taker_fee_rate=ZERO_FEE).steps
    assert step.qty == D("0.5") and step.raised


def test_d20_insufficient_winners():
    loser, winners, s = d4(max_winners_to_combine=1)
    out = plan_offsets(loser, winners, s, taker_fee_rate=ZERO_FEE)
    assert isinstance(out, NoAction) and out.reason == "insufficient_offsets"
    assert (out.required_usd, out.available_usd) == (D(120), D(80))
    loser, winners, s = d4(w2_price="53")  # W2 at +30
    out = plan_offsets(loser, winners, s, taker_fee_rate=ZERO_FEE)
    assert isinstance(out, NoAction)
    assert (out.required_usd, out.available_usd) == (D(120), D(110))
    assert [st_.full for st_ in out.steps] == [True, True]


def test_insufficient_after_fees():
    loser = view(1, "100", "94", "20")  # -120
    w = view(2, "100", "115", "8")  # exactly +120: enough without fees only
    assert isinstance(plan_offsets(loser, [w], S, taker_fee_rate=ZERO_FEE), OffsetPlan)
    out = plan_offsets(loser, [w], S, taker_fee_rate=D("0.001"))
    assert isinstance(out, NoAction) and out.required_usd == D("122.80")


def test_d21_partial_qty_rounded_up():
    loser = view(1, "100", "98", "20")  # -40
    w = view(2, "100", "103", "20")  # +60
    plan = plan_offsets(loser, [w], S, taker_fee_rate=ZERO_FEE)
    assert isinstance(plan, OffsetPlan)
    (step,) = plan.steps
    assert (step.qty, step.notional, step.estimated_usd, step.full) == (
        D("13.334"), D("1373.402"), D("40.002"), False)


def test_partial_close_disabled_closes_winners_fully():
    loser, winners, _ = d4()
    plan = plan_offsets(loser, winners, RiskSettings(partial_close_enabled=False),
                        taker_fee_rate=ZERO_FEE)
    assert [(s.qty, s.full) for s in plan.steps] == [(D(8), True), (D(10), True)]
    assert plan.covered_usd == D(130)


def test_dust_remainder_becomes_full_close():
    loser = view(1, "100", "96", "10")  # -40
    w = view(2, "100", "110", "4.01", min_notional="5")  # need 40 -> 4.000, rest 0.010 (1.1 USD)
    (step,) = plan_offsets(loser, [w], S, taker_fee_rate=ZERO_FEE).steps
    assert step.qty == D("4.01") and step.full


def test_short_winner_uses_avg_minus_price():
    loser = view(1, "100", "104", "10", side="short")  # -40
    w = view(2, "100", "90", "10", side="short")  # +100
    assert unit_profit(w) == D(10)
    (step,) = plan_offsets(loser, [w], S, taker_fee_rate=ZERO_FEE).steps
    assert (step.qty, step.estimated_usd) == (D("4.000"), D("40.000"))


@pytest.mark.parametrize(
    "s, fee, field",
    [
        (RiskSettings(max_winners_to_combine=0), None, "risk_engine.max_winners_to_combine"),
        (S, D("-0.001"), "taker_fee_rate"),
    ],
)
def test_impossible_settings(s, fee, field):
    with pytest.raises(InvalidInput) as exc:
        plan_offsets(view(1, "100", "94", "20"), [view(2, "100", "110", "8")], s,
                     taker_fee_rate=fee)
    assert exc.value.field == field


def test_inconsistent_winner_refused():
    bad = msgspec.structs.replace(view(2, "100", "99", "5"), unrealized_usd=D(5))
    with pytest.raises(InvalidInput) as exc:
        plan_offsets(view(1, "100", "94", "20"), [bad], S)
    assert exc.value.field == "winner[2].avg_entry"


def test_zero_step_refused():
    loser = view(1, "100", "94", "20")
    with pytest.raises(InvalidInput) as exc:
        plan_offsets(loser, [view(2, "100", "110", "8", step="0")], S)
    assert exc.value.field == "winner[2].step_size"


# ---- property: a plan covers required_usd (within one step of rounding) or is NoAction ----

steps = st.sampled_from(["0.001", "0.01", "1"])


@st.composite
def winners_st(draw):
    out = []
    for gid in range(2, 2 + draw(st.integers(min_value=0, max_value=6))):
        avg = draw(st.integers(min_value=1, max_value=500))
        price = avg + draw(st.integers(min_value=1, max_value=80))
        step = draw(steps)
        qty = D(draw(st.integers(min_value=1, max_value=5000))) * D(step)
        out.append(view(gid, avg, price, qty, step=step, min_qty=step,
                        min_notional=str(draw(st.integers(min_value=0, max_value=10))),
                        created=gid))
    return out


@settings(max_examples=300, deadline=None)
@given(
    loss_qty=st.integers(min_value=1, max_value=100),
    loss_drop=st.integers(min_value=1, max_value=30),
    winners=winners_st(),
    fee=st.sampled_from([D(0), D("0.001"), D("0.00075")]),
    slip=st.sampled_from([D(0), D("0.5")]),
    partial=st.booleans(),
    max_w=st.integers(min_value=1, max_value=4),
    min_close=st.sampled_from([D(0), D(20)]),
)
def test_plan_covers_required_or_no_action(loss_qty, loss_drop, winners, fee, slip, partial,
                                           max_w, min_close):
    loser = view(1, "100", 100 - loss_drop, loss_qty)
    s = RiskSettings(max_winners_to_combine=max_w, partial_close_enabled=partial,
                     offset_slippage_percent=slip, min_close_notional=min_close)
    ranked = rank_winners(winners, exclude_id=1)
    out = plan_offsets(loser, ranked, s, taker_fee_rate=fee)
    by_id = {w.id: w for w in winners}
    assert len(out.steps) <= max_w
    for step in out.steps:
        w = by_id[step.group_id]
        assert 0 < step.qty <= w.open_qty and step.full == (step.qty == w.open_qty)
        assert step.estimated_usd == unit_profit(w) * step.qty
    if isinstance(out, NoAction):
        assert out.available_usd < out.required_usd
        return
    assert out.covered_usd >= out.required_usd >= abs(loser.unrealized_usd)
    # the last winner's close overshoots by less than one step, unless raised or closed fully
    last = out.steps[-1]
    w = by_id[last.group_id]
    if not last.raised and not last.full:
        exact = (out.required_usd - (out.covered_usd - last.estimated_usd)) / unit_profit(w)
        assert last.qty == round_up(exact, w.step_size)
        assert (last.qty - w.step_size) * unit_profit(w) < out.required_usd - (
            out.covered_usd - last.estimated_usd)
